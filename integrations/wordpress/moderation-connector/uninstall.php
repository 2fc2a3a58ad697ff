<?php
/**
 * Uninstall: remove the plugin's options and its webhook on the service (comment meta stays:
 * it names the service's comments, which the service keeps).
 *
 * @package ModerationConnector
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

require_once __DIR__ . '/includes/client.php';

$moderation_webhook = (string) get_option( 'moderation_webhook_id', '' );
if ( '' !== $moderation_webhook && moderation_is_configured() ) {
	moderation_request( 'DELETE', '/api/v1/webhooks/' . rawurlencode( $moderation_webhook ) );
}
foreach ( array( 'moderation_service_url', 'moderation_site_key', 'moderation_webhook_id', 'moderation_webhook_secret', 'moderation_webhook_fingerprint', 'moderation_webhook_error', 'moderation_webhook_seen' ) as $moderation_option ) {
	delete_option( $moderation_option );
}
