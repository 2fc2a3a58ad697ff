<?php
/**
 * Tools -> Export / Erase Personal Data include what the service holds about a commenter.
 *
 * @package ModerationConnector
 */

defined( 'ABSPATH' ) || exit;

add_filter( 'wp_privacy_personal_data_exporters', 'moderation_register_exporter' );
add_filter( 'wp_privacy_personal_data_erasers', 'moderation_register_eraser' );

/**
 * Add the service's exporter to WordPress's list.
 *
 * @param array $exporters Exporters by id.
 */
function moderation_register_exporter( array $exporters ): array {
	$exporters['moderation-connector'] = array(
		'exporter_friendly_name' => __( 'Comment moderation service', 'moderation-connector' ),
		'callback'               => 'moderation_export_personal_data',
	);
	return $exporters;
}

/**
 * Add the service's eraser to WordPress's list.
 *
 * @param array $erasers Erasers by id.
 */
function moderation_register_eraser( array $erasers ): array {
	$erasers['moderation-connector'] = array(
		'eraser_friendly_name' => __( 'Comment moderation service', 'moderation-connector' ),
		'callback'             => 'moderation_erase_personal_data',
	);
	return $erasers;
}

/**
 * Export what the service holds about one address on this site (one page: all of it).
 *
 * @param string $email The commenter's address.
 * @param int    $page  Page number (the service answers everything at once).
 * @return array|WP_Error
 */
function moderation_export_personal_data( $email, $page = 1 ) {
	if ( ! moderation_is_configured() ) {
		return array(
			'data' => array(),
			'done' => true,
		);
	}
	$result = moderation_request( 'POST', '/api/v1/exports', array( 'author_email' => (string) $email ), 30.0 );
	if ( 200 !== $result['code'] ) {
		return new WP_Error( 'moderation_export_failed', (string) $result['error'] );
	}
	$items = array();
	foreach ( (array) ( $result['body']['comments'] ?? array() ) as $comment ) {
		$history = array();
		foreach ( (array) ( $comment['history'] ?? array() ) as $event ) {
			$history[] = sprintf( '%s %s: %s -> %s', $event['at'] ?? '', $event['actor'] ?? '', $event['from_status'] ?? '-', $event['to_status'] ?? '' );
		}
		$earlier = array();
		foreach ( (array) ( $comment['revisions'] ?? array() ) as $revision ) {
			$earlier[] = ( $revision['at'] ?? '' ) . ': ' . ( $revision['content_raw'] ?? '' );
		}
		$fields = array(
			__( 'Service comment ID', 'moderation-connector' ) => $comment['id'] ?? '',
			__( 'Post', 'moderation-connector' )               => $comment['post_id'] ?? '',
			__( 'Author name', 'moderation-connector' )        => $comment['author_name'] ?? '',
			__( 'Author email', 'moderation-connector' )       => $comment['author_email'] ?? '',
			__( 'Author URL', 'moderation-connector' )         => $comment['author_url'] ?? '',
			__( 'IP address', 'moderation-connector' )         => $comment['author_ip'] ?? '',
			__( 'User agent', 'moderation-connector' )         => $comment['user_agent'] ?? '',
			__( 'Text', 'moderation-connector' )               => $comment['content_raw'] ?? '',
			__( 'Earlier texts', 'moderation-connector' )      => implode( "\n", $earlier ),
			__( 'Status', 'moderation-connector' )             => $comment['status'] ?? '',
			__( 'Spam score', 'moderation-connector' )         => $comment['spam_score'] ?? '',
			__( 'Received', 'moderation-connector' )           => $comment['created_at'] ?? '',
			__( 'History', 'moderation-connector' )            => implode( "\n", $history ),
		);
		$data = array();
		foreach ( $fields as $name => $value ) {
			if ( '' !== (string) $value ) {
				$data[] = array(
					'name'  => $name,
					'value' => (string) $value,
				);
			}
		}
		$items[] = array(
			'group_id'    => 'moderation-service',
			'group_label' => __( 'Comment moderation service', 'moderation-connector' ),
			'item_id'     => 'moderation-comment-' . (int) ( $comment['id'] ?? 0 ),
			'data'        => $data,
		);
	}
	return array(
		'data' => $items,
		'done' => true,
	);
}

/**
 * Erase what the service holds about one address on this site.
 *
 * @param string $email The commenter's address.
 * @param int    $page  Page number (the service erases everything at once).
 * @return array|WP_Error
 */
function moderation_erase_personal_data( $email, $page = 1 ) {
	$done = array(
		'items_removed'  => false,
		'items_retained' => false,
		'messages'       => array(),
		'done'           => true,
	);
	if ( ! moderation_is_configured() ) {
		return $done;
	}
	$result = moderation_request( 'POST', '/api/v1/erasures', array( 'author_email' => (string) $email ), 30.0 );
	if ( 200 !== $result['code'] ) {
		return new WP_Error( 'moderation_erasure_failed', (string) $result['error'] );
	}
	$done['items_removed'] = (int) ( $result['body']['comments_deleted'] ?? 0 ) > 0;
	return $done;
}
