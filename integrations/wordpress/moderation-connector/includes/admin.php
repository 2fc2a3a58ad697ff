<?php
/**
 * Settings -> Moderation, the comments list column and the edit screen's box.
 *
 * @package ModerationConnector
 */

defined( 'ABSPATH' ) || exit;

add_action( 'admin_menu', 'moderation_admin_menu' );
add_action( 'admin_init', 'moderation_register_settings' );
add_action( 'admin_post_moderation_test', 'moderation_handle_test' );
add_action( 'admin_post_moderation_import', 'moderation_handle_import' );
add_filter( 'manage_edit-comments_columns', 'moderation_comments_column' );
add_action( 'manage_comments_custom_column', 'moderation_comments_column_cell', 10, 2 );
add_action( 'add_meta_boxes_comment', 'moderation_add_meta_box' );

/**
 * Add Settings -> Moderation.
 */
function moderation_admin_menu(): void {
	add_options_page(
		__( 'Moderation', 'moderation-connector' ),
		__( 'Moderation', 'moderation-connector' ),
		'manage_options',
		'moderation',
		'moderation_render_settings'
	);
}

/**
 * Register the two settings (the constants in wp-config.php win over them).
 */
function moderation_register_settings(): void {
	register_setting(
		'moderation',
		'moderation_service_url',
		array(
			'type'              => 'string',
			'sanitize_callback' => 'esc_url_raw',
			'default'           => '',
		)
	);
	register_setting(
		'moderation',
		'moderation_site_key',
		array(
			'type'              => 'string',
			'sanitize_callback' => 'sanitize_text_field',
			'default'           => '',
		)
	);
}

/**
 * Render Settings -> Moderation.
 */
function moderation_render_settings(): void {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	$url_constant = defined( 'MODERATION_SERVICE_URL' );
	$key_constant = defined( 'MODERATION_SITE_KEY' );
	$notice       = get_transient( 'moderation_notice_' . get_current_user_id() );
	delete_transient( 'moderation_notice_' . get_current_user_id() );
	?>
	<div class="wrap">
		<h1><?php esc_html_e( 'Moderation', 'moderation-connector' ); ?></h1>
		<?php if ( $notice ) : ?>
			<div class="notice notice-<?php echo esc_attr( $notice['type'] ); ?>"><p><?php echo esc_html( $notice['text'] ); ?></p></div>
		<?php endif; ?>
		<form method="post" action="options.php">
			<?php settings_fields( 'moderation' ); ?>
			<table class="form-table" role="presentation">
				<tr>
					<th scope="row"><label for="moderation_service_url"><?php esc_html_e( 'Service URL', 'moderation-connector' ); ?></label></th>
					<td>
						<input type="url" class="regular-text" id="moderation_service_url" name="moderation_service_url" value="<?php echo esc_attr( moderation_service_url() ); ?>" <?php disabled( $url_constant ); ?>>
						<?php if ( $url_constant ) : ?>
							<p class="description"><?php esc_html_e( 'Set by MODERATION_SERVICE_URL in wp-config.php.', 'moderation-connector' ); ?></p>
						<?php endif; ?>
					</td>
				</tr>
				<tr>
					<th scope="row"><label for="moderation_site_key"><?php esc_html_e( 'Site key', 'moderation-connector' ); ?></label></th>
					<td>
						<input type="password" class="regular-text" id="moderation_site_key" name="moderation_site_key" value="<?php echo esc_attr( $key_constant ? '' : moderation_site_key() ); ?>" autocomplete="off" <?php disabled( $key_constant ); ?>>
						<?php if ( $key_constant ) : ?>
							<p class="description"><?php esc_html_e( 'Set by MODERATION_SITE_KEY in wp-config.php.', 'moderation-connector' ); ?></p>
						<?php endif; ?>
					</td>
				</tr>
				<tr>
					<th scope="row"><?php esc_html_e( 'Webhook', 'moderation-connector' ); ?></th>
					<td>
						<code><?php echo esc_html( moderation_webhook_url() ); ?></code>
						<p class="description">
							<?php
							$error = (string) get_option( 'moderation_webhook_error', '' );
							if ( get_option( 'moderation_webhook_id' ) && '' === $error ) {
								esc_html_e( 'Registered with the service: its decisions reach this site.', 'moderation-connector' );
							} elseif ( '' !== $error ) {
								/* translators: %s: the service's answer */
								echo esc_html( sprintf( __( 'Not registered yet: %s', 'moderation-connector' ), $error ) );
							} else {
								esc_html_e( 'Registered once the service URL and key are set.', 'moderation-connector' );
							}
							?>
						</p>
					</td>
				</tr>
			</table>
			<?php
			if ( ! ( $url_constant && $key_constant ) ) {
				submit_button();
			}
			?>
		</form>
		<form id="moderation-test" method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
			<input type="hidden" name="action" value="moderation_test">
			<?php wp_nonce_field( 'moderation_test' ); ?>
			<?php submit_button( __( 'Test connection', 'moderation-connector' ), 'secondary', 'submit', false ); ?>
		</form>
		<h2><?php esc_html_e( 'History', 'moderation-connector' ); ?></h2>
		<p><?php esc_html_e( "Send this site's existing comments, with their statuses (spam included), to the service: it learns this site from them. Sending them twice adds nothing.", 'moderation-connector' ); ?></p>
		<form id="moderation-import" method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
			<input type="hidden" name="action" value="moderation_import">
			<?php wp_nonce_field( 'moderation_import' ); ?>
			<?php submit_button( __( 'Import comment history', 'moderation-connector' ), 'secondary', 'submit', false ); ?>
		</form>
	</div>
	<?php
}

/**
 * Show a notice on the settings page after a redirect.
 *
 * @param string $type success or error.
 * @param string $text The message.
 */
function moderation_redirect_with_notice( string $type, string $text ): void {
	set_transient(
		'moderation_notice_' . get_current_user_id(),
		array(
			'type' => $type,
			'text' => $text,
		),
		MINUTE_IN_SECONDS
	);
	wp_safe_redirect( admin_url( 'options-general.php?page=moderation' ) );
	exit;
}

/**
 * "Test connection": ask the service something only a valid site key may ask.
 */
function moderation_handle_test(): void {
	if ( ! current_user_can( 'manage_options' ) ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'moderation-connector' ), 403 );
	}
	check_admin_referer( 'moderation_test' );
	if ( ! moderation_is_configured() ) {
		moderation_redirect_with_notice( 'error', __( 'Set the service URL and the site key first.', 'moderation-connector' ) );
	}
	$result = moderation_request( 'GET', '/api/v1/posts/connection-test/comments?limit=1' );
	if ( 200 === $result['code'] ) {
		moderation_ensure_webhook();
		moderation_redirect_with_notice( 'success', __( 'Connected: the service accepts this site key.', 'moderation-connector' ) );
	}
	/* translators: %s: the service's answer or the network error */
	moderation_redirect_with_notice( 'error', sprintf( __( 'Not connected: %s', 'moderation-connector' ), (string) $result['error'] ) );
}

/**
 * "Import comment history": send every comment in batches.
 */
function moderation_handle_import(): void {
	if ( ! current_user_can( 'moderate_comments' ) || ! current_user_can( 'manage_options' ) ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'moderation-connector' ), 403 );
	}
	check_admin_referer( 'moderation_import' );
	$totals = moderation_import_history();
	if ( $totals['error'] ) {
		/* translators: %s: the service's answer */
		moderation_redirect_with_notice( 'error', sprintf( __( 'Import stopped: %s', 'moderation-connector' ), $totals['error'] ) );
	}
	/* translators: 1: imported, 2: already present, 3: skipped */
	moderation_redirect_with_notice( 'success', sprintf( __( 'Imported %1$d comments (%2$d were there already; %3$d skipped: known to the service already, or without email or text).', 'moderation-connector' ), $totals['imported'], $totals['already_present'], $totals['skipped'] ) );
}

/**
 * Add the Moderation column to the comments list.
 *
 * @param array $columns Columns by id.
 */
function moderation_comments_column( array $columns ): array {
	$columns['moderation'] = __( 'Moderation', 'moderation-connector' );
	return $columns;
}

/**
 * One line of what the service said about a comment.
 *
 * @param int $comment_id The comment.
 */
function moderation_summary( int $comment_id ): string {
	$service_id = get_comment_meta( $comment_id, MODERATION_META_ID, true );
	if ( ! $service_id ) {
		if ( get_comment_meta( $comment_id, MODERATION_META_HELD, true ) ) {
			return __( 'Held: the service was unreachable; WP-Cron checks it again.', 'moderation-connector' );
		}
		return __( 'Not checked', 'moderation-connector' );
	}
	$score = (string) get_comment_meta( $comment_id, MODERATION_META_SCORE, true );
	$parts = array(
		'#' . $service_id,
		(string) get_comment_meta( $comment_id, MODERATION_META_STATUS, true ),
	);
	if ( '' !== $score ) {
		/* translators: %s: spam probability */
		$parts[] = sprintf( __( 'score %s', 'moderation-connector' ), number_format_i18n( (float) $score, 2 ) );
	}
	$reasons = (string) get_comment_meta( $comment_id, MODERATION_META_REASONS, true );
	if ( '' !== $reasons ) {
		$parts[] = $reasons;
	}
	return implode( ' · ', array_filter( $parts ) );
}

/**
 * Print the Moderation cell of one comment.
 *
 * @param string $column     The column id.
 * @param int    $comment_id The comment.
 */
function moderation_comments_column_cell( $column, $comment_id ): void {
	if ( 'moderation' === $column ) {
		echo '<span class="moderation-summary">' . esc_html( moderation_summary( (int) $comment_id ) ) . '</span>';
	}
}

/**
 * Add the service's box to the comment edit screen.
 */
function moderation_add_meta_box(): void {
	add_meta_box( 'moderation-connector', __( 'Moderation service', 'moderation-connector' ), 'moderation_render_meta_box', 'comment', 'normal' );
}

/**
 * Print the box: id, status, score, reasons and the last error.
 *
 * @param WP_Comment $comment The comment.
 */
function moderation_render_meta_box( $comment ): void {
	$id    = (int) $comment->comment_ID;
	$error = (string) get_comment_meta( $id, MODERATION_META_ERROR, true );
	echo '<p class="moderation-summary">' . esc_html( moderation_summary( $id ) ) . '</p>';
	if ( '' !== $error ) {
		/* translators: %s: error message */
		echo '<p>' . esc_html( sprintf( __( 'Last error: %s', 'moderation-connector' ), $error ) ) . '</p>';
	}
}
