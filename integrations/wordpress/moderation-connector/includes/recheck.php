<?php
/**
 * WP-Cron re-checks comments held while the service was unreachable, and resends decisions.
 *
 * @package ModerationConnector
 */

defined( 'ABSPATH' ) || exit;

const MODERATION_RECHECK_BATCH = 50;

add_action( 'moderation_recheck_held', 'moderation_recheck' );
add_action( 'moderation_recheck_hourly', 'moderation_recheck' );

/**
 * Seconds before the first re-check (constant MODERATION_RECHECK_DELAY; default 5 minutes).
 */
function moderation_recheck_delay(): int {
	$delay = defined( 'MODERATION_RECHECK_DELAY' ) ? (int) MODERATION_RECHECK_DELAY : 5 * MINUTE_IN_SECONDS;
	return max( 0, (int) apply_filters( 'moderation_recheck_delay', $delay ) );
}

/**
 * Schedule one re-check, unless one is scheduled already.
 */
function moderation_schedule_recheck(): void {
	if ( ! wp_next_scheduled( 'moderation_recheck_held' ) ) {
		wp_schedule_single_event( time() + moderation_recheck_delay(), 'moderation_recheck_held' );
	}
}

/**
 * The comments waiting for something (held unchecked, or a decision not yet sent), by meta key.
 *
 * @param string $meta_key MODERATION_META_HELD or MODERATION_META_DECISION.
 * @return int[]
 */
function moderation_waiting( string $meta_key ): array {
	return array_map(
		'intval',
		get_comments(
			array(
				'meta_key' => $meta_key, // phpcs:ignore WordPress.DB.SlowDBQuery
				'status'   => 'any',
				'fields'   => 'ids',
				'number'   => MODERATION_RECHECK_BATCH,
				'orderby'  => 'comment_ID',
				'order'    => 'ASC',
			)
		)
	);
}

/**
 * Send every held comment to the service again and apply its decision; resend decisions.
 *
 * A held comment that a person decided meanwhile keeps that decision: the service gets it.
 */
function moderation_recheck(): void {
	if ( ! moderation_is_configured() ) {
		return;
	}
	$unreachable = false;
	foreach ( moderation_waiting( MODERATION_META_HELD ) as $comment_id ) {
		$comment = get_comment( $comment_id );
		if ( ! $comment ) {
			continue;
		}
		$result = moderation_request( 'POST', '/api/v1/comments', moderation_payload( (array) $comment->to_array() ), 10.0 );
		if ( 201 === $result['code'] && isset( $result['body']['id'] ) ) {
			$held_status = (string) $comment->comment_approved;
			moderation_store_answer( $comment_id, $result['body'] );
			if ( '0' === $held_status ) {
				moderation_apply_status( $comment_id, (string) $result['body']['status'] );
			} else {
				$status = moderation_service_status( moderation_wp_status_name( $held_status ) );
				if ( $status && $status !== $result['body']['status'] ) {
					moderation_send_decision( $comment_id, $status, 'WordPress: decided while the service was unreachable' );
				}
			}
		} elseif ( 0 === $result['code'] || $result['code'] >= 500 || 401 === $result['code'] ) {
			update_comment_meta( $comment_id, MODERATION_META_ERROR, (string) $result['error'] );
			$unreachable = true;
			break;
		} else {
			// Refused for good (a field error, a duplicate): it stays held for a person.
			delete_comment_meta( $comment_id, MODERATION_META_HELD );
			update_comment_meta( $comment_id, MODERATION_META_ERROR, (string) $result['error'] );
		}
	}
	if ( ! $unreachable ) {
		foreach ( moderation_waiting( MODERATION_META_DECISION ) as $comment_id ) {
			$status = (string) get_comment_meta( $comment_id, MODERATION_META_DECISION, true );
			moderation_send_decision( $comment_id, $status, 'WordPress: sent again after an error' );
			if ( get_comment_meta( $comment_id, MODERATION_META_DECISION, true ) ) {
				$unreachable = true;
				break;
			}
		}
	}
	if ( $unreachable || moderation_waiting( MODERATION_META_HELD ) || moderation_waiting( MODERATION_META_DECISION ) ) {
		wp_clear_scheduled_hook( 'moderation_recheck_held' );
		moderation_schedule_recheck();
	}
	moderation_ensure_webhook();
}
