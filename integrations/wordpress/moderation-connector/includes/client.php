<?php
/**
 * The HTTP client of the moderation service: configuration and one request function.
 *
 * @package ModerationConnector
 */

defined( 'ABSPATH' ) || exit;

/**
 * The service's base URL: the constant MODERATION_SERVICE_URL wins over the setting.
 */
function moderation_service_url(): string {
	$url = defined( 'MODERATION_SERVICE_URL' ) ? (string) MODERATION_SERVICE_URL : (string) get_option( 'moderation_service_url', '' );
	return untrailingslashit( trim( $url ) );
}

/**
 * The site key: the constant MODERATION_SITE_KEY wins over the setting.
 */
function moderation_site_key(): string {
	return trim( defined( 'MODERATION_SITE_KEY' ) ? (string) MODERATION_SITE_KEY : (string) get_option( 'moderation_site_key', '' ) );
}

/**
 * Whether a service URL and a site key are both set.
 */
function moderation_is_configured(): bool {
	return '' !== moderation_service_url() && '' !== moderation_site_key();
}

/**
 * Seconds to wait for the service on a new comment (default 3; constant MODERATION_TIMEOUT).
 */
function moderation_timeout(): float {
	$timeout = defined( 'MODERATION_TIMEOUT' ) ? (float) MODERATION_TIMEOUT : 3.0;
	return (float) apply_filters( 'moderation_timeout', $timeout );
}

/**
 * Call the service with the site key.
 *
 * @param string     $method  HTTP method.
 * @param string     $path    Path under the service URL, e.g. /api/v1/comments.
 * @param array|null $body    JSON body, or null.
 * @param float|null $timeout Seconds (default: moderation_timeout()).
 * @return array{code:int, body:?array, error:?string} code 0 when the service was not reached.
 */
function moderation_request( string $method, string $path, ?array $body = null, ?float $timeout = null ): array {
	$args = array(
		'method'      => $method,
		'timeout'     => $timeout ?? moderation_timeout(),
		'redirection' => 0,
		'headers'     => array(
			'Authorization' => 'Bearer ' . moderation_site_key(),
			'Accept'        => 'application/json',
		),
	);
	if ( null !== $body ) {
		$args['headers']['Content-Type'] = 'application/json';
		$args['body']                    = wp_json_encode( $body );
	}
	$response = wp_remote_request( moderation_service_url() . $path, $args );
	if ( is_wp_error( $response ) ) {
		return array(
			'code'  => 0,
			'body'  => null,
			'error' => $response->get_error_message(),
		);
	}
	$code    = (int) wp_remote_retrieve_response_code( $response );
	$decoded = json_decode( wp_remote_retrieve_body( $response ), true );
	$decoded = is_array( $decoded ) ? $decoded : null;
	return array(
		'code'  => $code,
		'body'  => $decoded,
		'error' => $code >= 400 || $code < 200 ? moderation_problem_text( $decoded, $code ) : null,
	);
}

/**
 * One line describing a problem+json answer (RFC 9457), its field errors included.
 *
 * @param array|null $problem The decoded answer.
 * @param int        $code    The HTTP status.
 */
function moderation_problem_text( ?array $problem, int $code ): string {
	if ( ! $problem ) {
		/* translators: %d: HTTP status code */
		return sprintf( __( 'The moderation service answered HTTP %d.', 'moderation-connector' ), $code );
	}
	$text = (string) ( $problem['detail'] ?? $problem['title'] ?? '' );
	if ( ! empty( $problem['errors'] ) && is_array( $problem['errors'] ) ) {
		$parts = array();
		foreach ( $problem['errors'] as $field => $messages ) {
			$parts[] = moderation_field_label( (string) $field ) . ': ' . implode( '; ', (array) $messages );
		}
		$text = implode( '. ', $parts );
	}
	return $text;
}

/**
 * The label WordPress's comment form gives a service field.
 *
 * @param string $field The service's field name.
 */
function moderation_field_label( string $field ): string {
	$labels = array(
		'author_name'  => __( 'Name', 'moderation-connector' ),
		'author_email' => __( 'Email', 'moderation-connector' ),
		'author_url'   => __( 'Website', 'moderation-connector' ),
		'content'      => __( 'Comment', 'moderation-connector' ),
	);
	return $labels[ $field ] ?? $field;
}
