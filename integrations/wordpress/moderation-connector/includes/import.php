<?php
/**
 * History import: the site's existing comments, with their statuses, go to the service.
 *
 * @package ModerationConnector
 */

defined( 'ABSPATH' ) || exit;

const MODERATION_IMPORT_BATCH = 200;

if ( defined( 'WP_CLI' ) && WP_CLI ) {
	WP_CLI::add_command( 'moderation import', 'moderation_cli_import' );
}

/**
 * The import row of a WordPress comment (the service's row fields), or null to skip it:
 * no address or text, or already known to the service.
 *
 * @param WP_Comment $comment The comment.
 */
function moderation_import_row( WP_Comment $comment ): ?array {
	$statuses = array(
		'1'     => 'approved',
		'0'     => 'pending',
		'spam'  => 'spam',
		'trash' => 'trash',
	);
	$status = $statuses[ (string) $comment->comment_approved ] ?? null;
	if ( null === $status || '' === trim( $comment->comment_author_email ) || '' === trim( $comment->comment_content ) ) {
		return null; // The service requires an address and a text.
	}
	if ( get_comment_meta( (int) $comment->comment_ID, MODERATION_META_ID, true ) ) {
		return null; // The service has it already (checked when posted, or imported).
	}
	$row = array(
		'id'           => (string) $comment->comment_ID,
		'post_id'      => (string) $comment->comment_post_ID,
		'author_name'  => '' !== trim( $comment->comment_author ) ? $comment->comment_author : __( 'Anonymous', 'moderation-connector' ),
		'author_email' => $comment->comment_author_email,
		'author_url'   => $comment->comment_author_url,
		'author_ip'    => $comment->comment_author_IP,
		'user_agent'   => substr( (string) $comment->comment_agent, 0, 500 ),
		'content'      => $comment->comment_content,
		'status'       => $status,
		'created_at'   => mysql2date( 'Y-m-d\TH:i:s\Z', $comment->comment_date_gmt, false ),
	);
	if ( (int) $comment->comment_parent ) {
		$row['parent_id'] = (string) $comment->comment_parent;
	}
	return array_filter( $row, static fn( $value ) => '' !== $value );
}

/**
 * Send every comment (any status, oldest first) to the import endpoint in batches.
 *
 * @param callable|null $progress Called with a line of progress after each batch.
 * @return array{imported:int, already_present:int, skipped:int, error:?string}
 */
function moderation_import_history( ?callable $progress = null ): array {
	$totals = array(
		'imported'        => 0,
		'already_present' => 0,
		'skipped'         => 0,
		'error'           => null,
	);
	$offset = 0;
	while ( true ) {
		$comments = get_comments(
			array(
				'status'        => 'any',
				'type'          => 'comment',
				'number'        => MODERATION_IMPORT_BATCH,
				'offset'        => $offset,
				'orderby'       => 'comment_ID',
				'order'         => 'ASC',
				'no_found_rows' => true,
			)
		);
		if ( ! $comments ) {
			break;
		}
		$offset += count( $comments );
		$rows = array();
		foreach ( $comments as $comment ) {
			$row = moderation_import_row( $comment );
			if ( null === $row ) {
				++$totals['skipped'];
			} else {
				$rows[] = $row;
			}
		}
		$after = (int) end( $comments )->comment_ID;
		if ( ! $rows ) {
			continue;
		}
		$result = moderation_request( 'POST', '/api/v1/imports', array( 'comments' => $rows ), 60.0 );
		if ( 200 !== $result['code'] ) {
			$totals['error'] = (string) $result['error'];
			break;
		}
		$totals['imported']        += (int) ( $result['body']['imported'] ?? 0 );
		$totals['already_present'] += (int) ( $result['body']['already_present'] ?? 0 );
		foreach ( (array) ( $result['body']['ids'] ?? array() ) as $wp_id => $service_id ) {
			if ( ! get_comment_meta( (int) $wp_id, MODERATION_META_ID, true ) ) {
				update_comment_meta( (int) $wp_id, MODERATION_META_ID, (int) $service_id );
				$comment = get_comment( (int) $wp_id );
				if ( $comment ) {
					update_comment_meta( (int) $wp_id, MODERATION_META_CONTENT, sha1( $comment->comment_content ) );
				}
			}
		}
		if ( $progress ) {
			$progress( sprintf( 'up to comment %d: %d imported, %d already present', $after, $totals['imported'], $totals['already_present'] ) );
		}
	}
	return $totals;
}

/**
 * Import the site's comment history into the moderation service.
 *
 * ## EXAMPLES
 *
 *     wp moderation import
 *
 * @param array $args       Positional arguments (none).
 * @param array $assoc_args Options (none).
 */
function moderation_cli_import( $args, $assoc_args ): void {
	if ( ! moderation_is_configured() ) {
		WP_CLI::error( 'Set the service URL and site key first (Settings -> Moderation or wp-config.php).' );
	}
	$totals = moderation_import_history( static fn( string $line ) => WP_CLI::log( $line ) );
	if ( $totals['error'] ) {
		WP_CLI::error( $totals['error'] );
	}
	WP_CLI::success( sprintf( '%d imported, %d already present, %d skipped (known to the service already, or no email or text).', $totals['imported'], $totals['already_present'], $totals['skipped'] ) );
}
