<?php
/**
 * Plugin Name:       Moderation Connector
 * Description:       Sends every new comment to your self-hosted comment moderation service, applies its decision, and keeps both sides in step (decisions, edits, privacy requests, history import).
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      8.0
 * License:           GPL-2.0-or-later
 * Text Domain:       moderation-connector
 *
 * @package ModerationConnector
 */

defined( 'ABSPATH' ) || exit;

define( 'MODERATION_CONNECTOR_VERSION', '0.1.0' );
define( 'MODERATION_CONNECTOR_DIR', __DIR__ . '/' );

require_once MODERATION_CONNECTOR_DIR . 'includes/client.php';
require_once MODERATION_CONNECTOR_DIR . 'includes/comments.php';
require_once MODERATION_CONNECTOR_DIR . 'includes/recheck.php';
require_once MODERATION_CONNECTOR_DIR . 'includes/webhooks.php';
require_once MODERATION_CONNECTOR_DIR . 'includes/privacy.php';
require_once MODERATION_CONNECTOR_DIR . 'includes/import.php';
require_once MODERATION_CONNECTOR_DIR . 'includes/admin.php';

register_activation_hook( __FILE__, 'moderation_activate' );
register_deactivation_hook( __FILE__, 'moderation_deactivate' );

/**
 * On activation: register the webhook with the service and schedule the hourly re-check.
 */
function moderation_activate(): void {
	if ( ! wp_next_scheduled( 'moderation_recheck_hourly' ) ) {
		wp_schedule_event( time() + HOUR_IN_SECONDS, 'hourly', 'moderation_recheck_hourly' );
	}
	if ( moderation_is_configured() ) {
		moderation_register_webhook();
	}
}

/**
 * On deactivation: stop the scheduled re-checks (the webhook stays registered).
 */
function moderation_deactivate(): void {
	wp_clear_scheduled_hook( 'moderation_recheck_hourly' );
	wp_clear_scheduled_hook( 'moderation_recheck_held' );
}
