<?php
/**
 * Print the body WordPress's Akismet plugin sends, built by the plugin's own code.
 *
 * Reads {"fields": {...}, "api_key": "...", "charset": "UTF-8"} as JSON on stdin, loads
 * WordPress's query-string functions and the Akismet plugin's class (no database, no
 * hooks run), and prints what Akismet::http_post() posts:
 * add_query_arg( 'api_key', $api_key, Akismet::build_query( $fields ) ).
 * With a charset other than UTF-8 the values are converted to it first, as a site whose
 * blog_charset is ISO-8859-1 stores and sends them.
 */

$wordpress = getenv( 'WORDPRESS_DIR' ) ?: '/usr/share/wordpress';
define( 'ABSPATH', rtrim( $wordpress, '/' ) . '/' );
define( 'WPINC', 'wp-includes' );
require ABSPATH . WPINC . '/load.php';
require ABSPATH . WPINC . '/plugin.php';
require ABSPATH . WPINC . '/functions.php';
require ABSPATH . WPINC . '/formatting.php';
require ABSPATH . 'wp-content/plugins/akismet/class.akismet.php';

$input  = json_decode( stream_get_contents( STDIN ), true );
$fields = $input['fields'];
if ( strtoupper( $input['charset'] ) !== 'UTF-8' ) {
	foreach ( $fields as $name => $value ) {
		if ( is_string( $value ) ) {
			$fields[ $name ] = iconv( 'UTF-8', $input['charset'], $value );
		}
	}
}
$request = Akismet::build_query( $fields );
if ( $input['api_key'] ) {
	$request = add_query_arg( 'api_key', $input['api_key'], $request );
}
echo $request;
