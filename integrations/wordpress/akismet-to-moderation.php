<?php
/**
 * Plugin Name: Akismet to Moderation
 * Description: Sends the official Akismet plugin's calls to your self-hosted moderation service instead of rest.akismet.com. Set MODERATION_AKISMET_URL (or MODERATION_SERVICE_URL) and give Akismet the site's key.
 * Version:     0.1.0
 * License:     GPL-2.0-or-later
 *
 * A must-use plugin: copy it to wp-content/mu-plugins/.
 *
 * @package ModerationConnector
 */

defined( 'ABSPATH' ) || exit;

add_filter( 'pre_http_request', 'moderation_akismet_redirect', 10, 3 );

/**
 * Answer a request for Akismet's API with the same request made to the service.
 *
 * @param false|array|WP_Error $preempt A response already decided by another filter.
 * @param array                $args    The request's arguments.
 * @param string               $url     The requested URL.
 * @return false|array|WP_Error
 */
function moderation_akismet_redirect( $preempt, $args, $url ) {
	$service = defined( 'MODERATION_AKISMET_URL' ) ? MODERATION_AKISMET_URL : ( defined( 'MODERATION_SERVICE_URL' ) ? MODERATION_SERVICE_URL : '' );
	$host    = strtolower( (string) ( $args['headers']['Host'] ?? wp_parse_url( $url, PHP_URL_HOST ) ) );
	if ( false !== $preempt || '' === $service || ! preg_match( '/(^|\.)rest\.akismet\.com$/', $host ) ) {
		return $preempt;
	}
	unset( $args['headers']['Host'] ); // Akismet names its host; the service has its own.
	return wp_remote_request( untrailingslashit( $service ) . wp_parse_url( $url, PHP_URL_PATH ), $args );
}
