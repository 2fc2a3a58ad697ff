"""Security headers on every response (strict CSP on HTML) and https-aware session cookies."""

from __future__ import annotations

from flask import Flask
from flask import Response
from flask import request
from flask.sessions import SecureCookieSessionInterface

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


def set_security_headers(response: Response) -> Response:
    """Add nosniff to every response, and the CSP and referrer policy to HTML ones."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        # same-origin, not no-referrer: Flask-WTF checks the Referer of https posts.
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    """Install the response headers and the session cookie policy."""
    app.session_interface = HttpsAwareSessionInterface()
    app.after_request(set_security_headers)
