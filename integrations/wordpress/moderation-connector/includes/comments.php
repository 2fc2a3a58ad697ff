<?php
/**
 * New comments go through the service; decisions and edits made in WordPress follow them.
 *
 * @package ModerationConnector
 */

defined( 'ABSPATH' ) || exit;

const MODERATION_META_ID       = '_moderation_id';
const MODERATION_META_STATUS   = '_moderation_status';
const MODERATION_META_SCORE    = '_moderation_score';
const MODERATION_META_REASONS  = '_moderation_reasons';
const MODERATION_META_CONTENT  = '_moderation_content_sha1';
const MODERATION_META_HELD     = '_moderation_needs_check';
const MODERATION_META_ERROR    = '_moderation_error';
const MODERATION_META_DECISION = '_moderation_unsent_decision';
const MODERATION_META_CREATED  = '_moderation_created_at';

add_filter( 'pre_comment_approved', 'moderation_pre_comment_approved', 99, 2 );
add_action( 'comment_post', 'moderation_comment_post', 10, 3 );
add_action( 'transition_comment_status', 'moderation_transition_comment_status', 10, 3 );
add_action( 'edit_comment', 'moderation_edit_comment', 10, 2 );

/**
 * Hold the answer about the comment being saved, from pre_comment_approved to comment_post.
 *
 * @param array|null|false $set An answer to remember, null to forget it, false to read it.
 */
function moderation_last_answer( $set = false ): ?array {
	static $last = null;
	if ( false !== $set ) {
		$last = $set;
	}
	return $last;
}

/**
 * Whether the plugin itself is changing a comment (so that the change is not sent back).
 *
 * @param bool|null $set True while applying, false after; null to read.
 */
function moderation_applying( ?bool $set = null ): bool {
	static $applying = false;
	if ( null !== $set ) {
		$applying = $set;
	}
	return $applying;
}

/**
 * Whether a comment of this type goes to the service (comments, not pings or notes).
 *
 * @param string $type The comment_type.
 */
function moderation_checks_type( string $type ): bool {
	return in_array( $type, array( '', 'comment', 'review' ), true );
}

/**
 * The service's body for a comment, from WordPress's comment fields (unslashed).
 *
 * @param array $data comment_post_ID, comment_parent, comment_author, ... as WordPress names them.
 */
function moderation_payload( array $data ): array {
	$post_id = (int) ( $data['comment_post_ID'] ?? 0 );
	$payload = array(
		'post_id'      => (string) $post_id,
		'author_name'  => (string) ( $data['comment_author'] ?? '' ),
		'author_email' => (string) ( $data['comment_author_email'] ?? '' ),
		'content'      => (string) ( $data['comment_content'] ?? '' ),
		'author_url'   => (string) ( $data['comment_author_url'] ?? '' ),
		'author_ip'    => (string) ( $data['comment_author_IP'] ?? '' ),
		'user_agent'   => substr( (string) ( $data['comment_agent'] ?? '' ), 0, 500 ),
	);
	$permalink = $post_id ? get_permalink( $post_id ) : false;
	if ( $permalink ) {
		$payload['permalink'] = $permalink;
	}
	$parent = (int) ( $data['comment_parent'] ?? 0 );
	if ( $parent ) {
		$parent_service_id = (int) get_comment_meta( $parent, MODERATION_META_ID, true );
		if ( $parent_service_id ) {
			$payload['parent_id'] = $parent_service_id;
		}
	}
	return array_filter( $payload, static fn( $value ) => '' !== $value );
}

/**
 * WordPress's comment_approved value for a service status.
 *
 * @param string $status approved, pending, spam or rejected.
 * @return int|string
 */
function moderation_wp_approved( string $status ) {
	switch ( $status ) {
		case 'approved':
			return 1;
		case 'spam':
			return 'spam';
		case 'rejected':
			return 'trash';
		default:
			return 0;
	}
}

/**
 * Ask the service about a new comment and answer WordPress's approval with its decision.
 *
 * A field error the service names stops the comment as WordPress's own checks do; a
 * timeout or a service error holds it (never published unchecked, never lost) for WP-Cron.
 *
 * @param int|string|WP_Error $approved    WordPress's decision so far.
 * @param array               $commentdata The comment (slashed, as wp_new_comment has it).
 * @return int|string|WP_Error
 */
function moderation_pre_comment_approved( $approved, $commentdata ) {
	moderation_last_answer( null );
	if ( is_wp_error( $approved ) || ! moderation_is_configured() ) {
		return $approved;
	}
	$data = wp_unslash( (array) $commentdata );
	if ( ! moderation_checks_type( (string) ( $data['comment_type'] ?? '' ) ) ) {
		return $approved;
	}
	$result = moderation_request( 'POST', '/api/v1/comments', moderation_payload( $data ) );
	if ( 201 === $result['code'] && isset( $result['body']['id'] ) ) {
		// A moderator's own comment keeps WordPress's decision; the service is told it.
		$by_moderator = current_user_can( 'moderate_comments' );
		moderation_last_answer(
			array(
				'comment'      => $result['body'],
				'by_moderator' => $by_moderator,
			)
		);
		if ( $by_moderator || 'spam' === $approved || 'trash' === $approved ) {
			return $approved; // A moderator, or WordPress's own disallowed words, decided.
		}
		return moderation_wp_approved( (string) $result['body']['status'] );
	}
	if ( in_array( $result['code'], array( 409, 422, 429 ), true ) ) {
		$message = '<strong>' . __( 'Error:', 'moderation-connector' ) . '</strong> ' . esc_html( (string) $result['error'] );
		return new WP_Error( 'moderation_refused', $message, 422 === $result['code'] ? 200 : $result['code'] );
	}
	moderation_last_answer(
		array(
			'held'  => true,
			'error' => (string) $result['error'],
		)
	);
	return 'spam' === $approved || 'trash' === $approved ? $approved : 0;
}

/**
 * After WordPress saved a new comment: keep the service's answer, or mark it for a re-check.
 *
 * @param int        $comment_id  The new comment.
 * @param int|string $approved    Its status.
 * @param array      $commentdata Its data.
 */
function moderation_comment_post( $comment_id, $approved, $commentdata = array() ): void {
	$answer = moderation_last_answer();
	moderation_last_answer( null );
	if ( ! $answer ) {
		return;
	}
	if ( ! empty( $answer['comment'] ) ) {
		moderation_store_answer( (int) $comment_id, $answer['comment'] );
		$status = moderation_service_status( moderation_wp_status_name( (string) $approved ) );
		if ( ! empty( $answer['by_moderator'] ) && $status && $status !== $answer['comment']['status'] ) {
			moderation_send_decision( (int) $comment_id, $status, 'WordPress: posted by a moderator' );
		}
	} elseif ( ! empty( $answer['held'] ) ) {
		update_comment_meta( $comment_id, MODERATION_META_HELD, time() );
		update_comment_meta( $comment_id, MODERATION_META_ERROR, $answer['error'] );
		moderation_schedule_recheck();
	}
}

/**
 * Keep the service's id, status, score and reasons of a comment in its meta.
 *
 * @param int   $comment_id WordPress's comment.
 * @param array $comment    The service's comment (CommentOut).
 */
function moderation_store_answer( int $comment_id, array $comment ): void {
	$reasons = array();
	foreach ( (array) ( $comment['reasons'] ?? array() ) as $reason ) {
		$reasons[] = (string) ( $reason['code'] ?? '' );
	}
	update_comment_meta( $comment_id, MODERATION_META_ID, (int) $comment['id'] );
	if ( ! empty( $comment['created_at'] ) ) {
		update_comment_meta( $comment_id, MODERATION_META_CREATED, (string) $comment['created_at'] );
	}
	update_comment_meta( $comment_id, MODERATION_META_STATUS, (string) ( $comment['status'] ?? '' ) );
	update_comment_meta( $comment_id, MODERATION_META_SCORE, null === ( $comment['spam_score'] ?? null ) ? '' : (string) $comment['spam_score'] );
	update_comment_meta( $comment_id, MODERATION_META_REASONS, implode( ', ', array_filter( $reasons ) ) );
	$wp_comment = get_comment( $comment_id );
	if ( $wp_comment ) {
		update_comment_meta( $comment_id, MODERATION_META_CONTENT, sha1( $wp_comment->comment_content ) );
	}
	delete_comment_meta( $comment_id, MODERATION_META_HELD );
	delete_comment_meta( $comment_id, MODERATION_META_ERROR );
}

/**
 * Give a WordPress comment the service's status, without sending it back as a decision.
 *
 * @param int    $comment_id WordPress's comment.
 * @param string $status     The service's status.
 */
function moderation_apply_status( int $comment_id, string $status ): void {
	update_comment_meta( $comment_id, MODERATION_META_STATUS, $status );
	$comment = get_comment( $comment_id );
	if ( ! $comment || (string) moderation_wp_approved( $status ) === (string) $comment->comment_approved ) {
		return;
	}
	$verbs = array(
		'approved' => 'approve',
		'pending'  => 'hold',
		'spam'     => 'spam',
		'rejected' => 'trash',
	);
	moderation_applying( true );
	try {
		wp_set_comment_status( $comment_id, $verbs[ $status ] ?? 'hold' );
	} finally {
		moderation_applying( false );
	}
}

/**
 * The service's status for a WordPress status (approved, unapproved, spam, trash).
 *
 * @param string $wp_status What transition_comment_status names.
 */
function moderation_service_status( string $wp_status ): ?string {
	$map = array(
		'approved'   => 'approved',
		'unapproved' => 'pending',
		'spam'       => 'spam',
		'trash'      => 'rejected',
	);
	return $map[ $wp_status ] ?? null;
}

/**
 * transition_comment_status's name of a comment_approved value (1, 0, spam, trash).
 *
 * @param string $approved comment_approved.
 */
function moderation_wp_status_name( string $approved ): string {
	$names = array(
		'1' => 'approved',
		'0' => 'unapproved',
	);
	return $names[ $approved ] ?? $approved;
}

/**
 * A moderator's decision in WordPress (one comment or in bulk) becomes the service's decision.
 *
 * @param string     $new_status New status.
 * @param string     $old_status Old status.
 * @param WP_Comment $comment    The comment.
 */
function moderation_transition_comment_status( $new_status, $old_status, $comment ): void {
	if ( moderation_applying() || $new_status === $old_status || ! moderation_is_configured() ) {
		return;
	}
	$status = moderation_service_status( (string) $new_status );
	$id     = (int) $comment->comment_ID;
	if ( null === $status || ! get_comment_meta( $id, MODERATION_META_ID, true ) ) {
		return;
	}
	if ( get_comment_meta( $id, MODERATION_META_STATUS, true ) === $status ) {
		return; // The service decided it; nothing to tell it.
	}
	$user = wp_get_current_user();
	$note = sprintf( 'WordPress: %s -> %s by %s', $old_status, $new_status, $user->exists() ? $user->user_login : 'WordPress' );
	moderation_send_decision( $id, $status, $note );
}

/**
 * Send one decision to the service; keep it for WP-Cron when the service cannot take it now.
 *
 * @param int    $comment_id WordPress's comment.
 * @param string $status     approved, pending, spam or rejected.
 * @param string $note       Kept in the service's audit trail.
 */
function moderation_send_decision( int $comment_id, string $status, string $note ): bool {
	$actions    = array(
		'approved' => 'approve',
		'pending'  => 'pending',
		'spam'     => 'spam',
		'rejected' => 'reject',
	);
	$service_id = (int) get_comment_meta( $comment_id, MODERATION_META_ID, true );
	$result     = moderation_request( 'POST', "/api/v1/comments/{$service_id}/{$actions[ $status ]}", array( 'note' => $note ) );
	if ( 200 === $result['code'] ) {
		update_comment_meta( $comment_id, MODERATION_META_STATUS, $status );
		delete_comment_meta( $comment_id, MODERATION_META_DECISION );
		return true;
	}
	if ( 0 === $result['code'] || $result['code'] >= 500 ) {
		update_comment_meta( $comment_id, MODERATION_META_DECISION, $status );
		moderation_schedule_recheck();
	} else {
		delete_comment_meta( $comment_id, MODERATION_META_DECISION ); // Refused for good.
	}
	update_comment_meta( $comment_id, MODERATION_META_ERROR, (string) $result['error'] );
	return false;
}

/**
 * An edited comment is checked again: its new text goes to the service, its decision back.
 *
 * @param int   $comment_id The comment.
 * @param array $data       The update.
 */
function moderation_edit_comment( $comment_id, $data = array() ): void {
	$comment_id = (int) $comment_id;
	$service_id = (int) get_comment_meta( $comment_id, MODERATION_META_ID, true );
	if ( moderation_applying() || ! $service_id || ! moderation_is_configured() ) {
		return;
	}
	$comment = get_comment( $comment_id );
	if ( ! $comment || sha1( $comment->comment_content ) === get_comment_meta( $comment_id, MODERATION_META_CONTENT, true ) ) {
		return;
	}
	$result = moderation_request( 'PUT', "/api/v1/comments/{$service_id}/content", array( 'content' => $comment->comment_content ) );
	if ( 200 !== $result['code'] || empty( $result['body']['comment'] ) ) {
		update_comment_meta( $comment_id, MODERATION_META_ERROR, (string) $result['error'] );
		return;
	}
	$answer = $result['body']['comment'];
	moderation_store_answer( $comment_id, $answer );
	moderation_apply_status( $comment_id, (string) $answer['status'] );
}

/**
 * The WordPress comment that holds a service comment id, if any.
 *
 * @param int $service_id The service's comment id.
 */
function moderation_find_comment( int $service_id ): ?WP_Comment {
	$found = get_comments(
		array(
			'meta_key'   => MODERATION_META_ID, // phpcs:ignore WordPress.DB.SlowDBQuery
			'meta_value' => $service_id, // phpcs:ignore WordPress.DB.SlowDBQuery
			'status'     => 'any',
			'number'     => 1,
		)
	);
	return $found ? $found[0] : null;
}
