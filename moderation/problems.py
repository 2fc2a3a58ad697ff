"""RFC 9457 problem details: raised as exceptions, rendered in one place."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask import Response
from flask import jsonify
from flask import render_template
from flask import request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """An error answer: status, title, detail, a type URI and extension members."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        type: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.headers = headers or {}
        self.extensions = extensions

    def body(self) -> dict[str, Any]:
        """Return the problem document."""
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extensions,
        }


def invalid(errors: dict[str, list[str]], detail: str | None = None) -> Problem:
    """Return the 422 problem naming each invalid field."""
    names = ", ".join(sorted(errors))
    return Problem(
        422,
        "Invalid fields",
        detail or f"These fields are invalid: {names}",
        type="/problems/invalid-fields",
        errors=errors,
    )


def database_unavailable(retry_after: int) -> Problem:
    """Return the 503 answered while the database cannot be reached."""
    return Problem(
        503,
        "Database unavailable",
        "The database cannot be reached; try again shortly.",
        type="/problems/database-unavailable",
        headers={"Retry-After": str(retry_after)},
    )


def render(problem: Problem) -> Response:
    """Render a problem as problem+json, or as a small HTML page for the browser pages."""
    if _wants_html():
        response = Response(
            render_template("error.html", problem=problem),
            status=problem.status,
            mimetype="text/html",
        )
    else:
        response = jsonify(problem.body())
        response.status_code = problem.status
        response.mimetype = MEDIA_TYPE
    response.headers.update(problem.headers)
    return response


def _wants_html() -> bool:
    path = request.path
    if path.startswith(("/api/", "/1.1/", "/1.2/", "/healthz", "/readyz")):  # 1.x: Akismet's
        return False
    return request.accept_mimetypes.accept_html


def _from_http(exc: HTTPException) -> Problem:
    headers = {}
    if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return Problem(
        exc.code or 500,
        exc.name,
        exc.description or "",
        headers=headers,
    )


def init_app(app: Flask) -> None:
    """Register the handlers that turn every error into a problem answer."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return render(exc)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Response:
        return render(Problem(400, "CSRF check failed", exc.description, type="/problems/csrf"))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return render(_from_http(exc))

    @app.errorhandler(DBAPIError)
    def _dbapi(exc: DBAPIError) -> Response:
        if _is_unavailable(exc):
            logger.warning("database unavailable: %s", exc.orig)
            return render(database_unavailable(app.config["RETRY_AFTER_SECONDS"]))
        return _internal(exc)

    @app.errorhandler(PoolTimeout)
    def _pool(exc: PoolTimeout) -> Response:
        return render(database_unavailable(app.config["RETRY_AFTER_SECONDS"]))

    @app.errorhandler(Exception)
    def _internal(exc: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return render(Problem(500, "Internal Server Error", "The server failed; this is a bug."))


def _is_unavailable(exc: DBAPIError) -> bool:
    from sqlalchemy.exc import InterfaceError
    from sqlalchemy.exc import OperationalError

    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
