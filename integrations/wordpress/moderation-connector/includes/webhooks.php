<?php
/**
 * The service's signed webhooks (Standard Webhooks): registration and the receiving REST route.
 *
 * @package ModerationConnector
 */

defined( 'ABSPATH' ) || exit;

const MODERATION_WEBHOOK_TOLERANCE = 300; // Seconds a delivery's timestamp may be off.
const MODERATION_WEBHOOK_EVENTS    = array( 'comment.status_changed', 'comment.edited', 'comment.erased' );

add_action( 'rest_api_init', 'moderation_register_rest_routes' );
add_action( 'admin_init', 'moderation_ensure_webhook' );
add_action( 'update_option_moderation_service_url', 'moderation_register_webhook' );
add_action( 'update_option_moderation_site_key', 'moderation_register_webhook' );

/**
 * The URL the service delivers webhooks to (this site's REST route).
 */
function moderation_webhook_url(): string {
	return rest_url( 'moderation/v1/webhook' );
}

/**
 * What the registered webhook belongs to: the service, the key and the receiving URL.
 */
function moderation_webhook_fingerprint(): string {
	return sha1( moderation_service_url() . '|' . moderation_site_key() . '|' . moderation_webhook_url() );
}

/**
 * Register the webhook again when the service, the key or this site's URL changed.
 *
 * A failed attempt is retried at most every ten minutes (admin pages and WP-Cron call this).
 */
function moderation_ensure_webhook(): void {
	if ( ! moderation_is_configured() || get_option( 'moderation_webhook_fingerprint' ) === moderation_webhook_fingerprint() ) {
		return;
	}
	if ( get_transient( 'moderation_webhook_retry' ) ) {
		return;
	}
	if ( ! moderation_register_webhook() ) {
		set_transient( 'moderation_webhook_retry', 1, 10 * MINUTE_IN_SECONDS );
	}
}

/**
 * Register this site's webhook with the service using the site key; keep its secret.
 */
function moderation_register_webhook(): bool {
	if ( ! moderation_is_configured() ) {
		return false;
	}
	$old = (string) get_option( 'moderation_webhook_id', '' );
	if ( '' !== $old ) {
		moderation_request( 'DELETE', '/api/v1/webhooks/' . rawurlencode( $old ) );
	}
	$result = moderation_request(
		'POST',
		'/api/v1/webhooks',
		array(
			'url'    => moderation_webhook_url(),
			'events' => MODERATION_WEBHOOK_EVENTS,
		),
		10.0
	);
	if ( 201 !== $result['code'] || empty( $result['body']['secret'] ) ) {
		update_option( 'moderation_webhook_error', (string) $result['error'], false );
		return false;
	}
	update_option( 'moderation_webhook_id', (string) $result['body']['id'], false );
	update_option( 'moderation_webhook_secret', (string) $result['body']['secret'], false );
	update_option( 'moderation_webhook_fingerprint', moderation_webhook_fingerprint(), false );
	delete_option( 'moderation_webhook_error' );
	return true;
}

/**
 * Register the REST route that receives the service's webhooks.
 */
function moderation_register_rest_routes(): void {
	register_rest_route(
		'moderation/v1',
		'/webhook',
		array(
			'methods'             => 'POST',
			'callback'            => 'moderation_receive_webhook',
			'permission_callback' => 'moderation_verify_webhook',
		)
	);
}

/**
 * Check a delivery's Standard Webhooks signature and timestamp (the route's permission).
 *
 * @param WP_REST_Request $request The delivery.
 * @return true|WP_Error
 */
function moderation_verify_webhook( WP_REST_Request $request ) {
	$secret = (string) get_option( 'moderation_webhook_secret', '' );
	$id     = (string) $request->get_header( 'webhook_id' );
	$stamp  = (string) $request->get_header( 'webhook_timestamp' );
	$sigs   = (string) $request->get_header( 'webhook_signature' );
	if ( '' === $secret || ! str_starts_with( $secret, 'whsec_' ) ) {
		return new WP_Error( 'moderation_webhook_unregistered', 'No webhook is registered here.', array( 'status' => 401 ) );
	}
	if ( '' === $id || '' === $sigs || ! ctype_digit( $stamp ) ) {
		return new WP_Error( 'moderation_webhook_headers', 'webhook-id, webhook-timestamp and webhook-signature are required.', array( 'status' => 401 ) );
	}
	if ( abs( time() - (int) $stamp ) > MODERATION_WEBHOOK_TOLERANCE ) {
		return new WP_Error( 'moderation_webhook_timestamp', 'The webhook timestamp is too old or in the future.', array( 'status' => 401 ) );
	}
	$key      = base64_decode( substr( $secret, strlen( 'whsec_' ) ), true );
	$expected = base64_encode( hash_hmac( 'sha256', $id . '.' . $stamp . '.' . $request->get_body(), (string) $key, true ) );
	foreach ( explode( ' ', $sigs ) as $signature ) {
		$parts = explode( ',', $signature, 2 );
		if ( 2 === count( $parts ) && 'v1' === $parts[0] && hash_equals( $expected, $parts[1] ) ) {
			return true;
		}
	}
	return new WP_Error( 'moderation_webhook_signature', 'The webhook signature does not match.', array( 'status' => 401 ) );
}

/**
 * Remember a delivery's id; false when it was seen already (a replay or a retry).
 *
 * @param string $id The webhook-id header.
 */
function moderation_first_delivery( string $id ): bool {
	$seen = get_option( 'moderation_webhook_seen', array() );
	$seen = is_array( $seen ) ? $seen : array();
	$now  = time();
	// Ids older than twice the tolerance can go: their timestamp is refused anyway.
	$seen = array_filter( $seen, static fn( $at ) => $now - (int) $at <= 2 * MODERATION_WEBHOOK_TOLERANCE );
	if ( isset( $seen[ $id ] ) ) {
		return false;
	}
	$seen[ $id ] = $now;
	update_option( 'moderation_webhook_seen', $seen, false );
	return true;
}

/**
 * Whether an event's time is before the service created the comment (both the service's clock).
 *
 * @param string $event_time   The event's timestamp (ISO 8601).
 * @param string $created_time The comment's created_at as the service answered it ('' if unknown).
 */
function moderation_event_predates( string $event_time, string $created_time ): bool {
	if ( '' === $event_time || '' === $created_time ) {
		return false;
	}
	try {
		return new DateTimeImmutable( $event_time ) < new DateTimeImmutable( $created_time );
	} catch ( Exception $e ) {
		return false;
	}
}

/**
 * Apply a verified delivery: a status change made on the service reaches the WordPress comment.
 *
 * @param WP_REST_Request $request The delivery.
 */
function moderation_receive_webhook( WP_REST_Request $request ): WP_REST_Response {
	if ( ! moderation_first_delivery( (string) $request->get_header( 'webhook_id' ) ) ) {
		return new WP_REST_Response( array( 'applied' => false, 'reason' => 'already received' ), 200 );
	}
	$event   = json_decode( $request->get_body(), true );
	$type    = is_array( $event ) ? (string) ( $event['type'] ?? '' ) : '';
	$service = is_array( $event ) ? ( $event['data']['comment'] ?? null ) : null;
	if ( ! is_array( $service ) || empty( $service['id'] ) ) {
		return new WP_REST_Response( array( 'applied' => false, 'reason' => 'no comment in the event' ), 400 );
	}
	$comment = moderation_find_comment( (int) $service['id'] );
	if ( ! $comment ) {
		return new WP_REST_Response( array( 'applied' => false, 'reason' => 'not a comment of this site' ), 200 );
	}
	$comment_id = (int) $comment->comment_ID;
	// An event from before the service created this comment is about an earlier comment
	// that had the same id (an embedded database can reuse the id of an erased comment).
	if ( moderation_event_predates( (string) ( $event['timestamp'] ?? '' ), (string) get_comment_meta( $comment_id, MODERATION_META_CREATED, true ) ) ) {
		return new WP_REST_Response( array( 'applied' => false, 'reason' => 'about an earlier comment' ), 200 );
	}
	// A change this WordPress made itself comes back as an echo; applied late (deliveries
	// are at least once and may wait), it could undo a newer change made here.
	$actor = (string) ( $event['data']['actor'] ?? '' );
	if ( 'comment.status_changed' === $type && 'site:' . (string) ( $service['site'] ?? '' ) === $actor ) {
		return new WP_REST_Response( array( 'applied' => false, 'reason' => 'made by this site' ), 200 );
	}
	if ( 'comment.status_changed' === $type || 'comment.edited' === $type ) {
		$status = (string) ( $event['data']['new_status'] ?? $service['status'] ?? '' );
		if ( isset( $service['spam_score'] ) ) {
			update_comment_meta( $comment_id, MODERATION_META_SCORE, (string) $service['spam_score'] );
		}
		if ( in_array( $status, array( 'approved', 'pending', 'spam', 'rejected' ), true ) ) {
			moderation_apply_status( $comment_id, $status );
		}
	} elseif ( 'comment.erased' === $type ) {
		foreach ( array( MODERATION_META_ID, MODERATION_META_STATUS, MODERATION_META_SCORE, MODERATION_META_REASONS, MODERATION_META_CONTENT, MODERATION_META_CREATED ) as $key ) {
			delete_comment_meta( $comment_id, $key );
		}
	}
	return new WP_REST_Response( array( 'applied' => true ), 200 );
}
