"""Security headers on every response (strict CSP on HTML, no-store on the API, HSTS over
https), https-aware session cookies, and the client's address behind trusted proxies."""

from __future__ import annotations

from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script or style, no eval, nothing from another origin: a sanitizer slip
# cannot run code on a moderator's screen, and comments' links are never images.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Mark the session cookie Secure when configured so or when the request came by https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Return whether the session cookie gets the Secure attribute."""
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


PRIVATE_PREFIXES = ("/api/", "/1.1/")  # answers that may hold commenters' personal data


def set_security_headers(response: Response) -> Response:
    """Add nosniff to every response, and the CSP and referrer policy to HTML ones."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith(PRIVATE_PREFIXES):
        # Emails, IPs, comments: never kept by a browser's or a proxy's cache.
        response.headers.setdefault("Cache-Control", "no-store")
    hsts = int(current_app.config["HSTS_SECONDS"])
    if hsts > 0 and request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", f"max-age={hsts}")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        # same-origin, not no-referrer: Flask-WTF checks the Referer of https posts.
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    """Install the response headers and the session cookie policy."""
    app.session_interface = HttpsAwareSessionInterface()
    app.after_request(set_security_headers)
    hops = int(app.config["PROXY_HOPS"])
    if hops > 0:  # behind that many proxies: the client address, scheme and host they saw
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
