"""Who is calling: site keys, personal API tokens, browser sessions; role checks."""

from __future__ import annotations

import enum
import functools
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import TypeVar

from flask import Flask
from flask import current_app
from flask import g
from flask import redirect
from flask import request
from flask import session as cookie_session
from flask import url_for
from flask_login import LoginManager
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.db import get_session
from moderation.problems import Problem
from moderation.tables import LoginSession
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import User
from moderation.tables import utcnow

SITE_KEY_PREFIX = "msk_"
SITE_ACTOR_PREFIX = "site:"  # audit events by a site: "site:<name>"
USER_TOKEN_PREFIX = "mut_"  # noqa: S105 (a prefix, not a secret)
CSRF = "moderation.csrf"
SITE_KEYS = "moderation.site_keys"
F = TypeVar("F", bound=Callable[..., Any])


class PrincipalKind(enum.StrEnum):
    """How the caller proved who it is."""

    SITE = "site"
    TOKEN = "token"  # noqa: S105 (a kind of credential, not one)
    SESSION = "session"


@dataclass(frozen=True)
class SiteIdentity:
    """The site a valid, unrevoked key belongs to."""

    id: int
    name: str


class SiteKeyCache:
    """Per-process memory of valid site keys (by hash), each trusted for `ttl` seconds.

    Saves the intake a query per comment. A revoked key stops working in every worker
    within `ttl` seconds (SITE_KEY_TTL_SECONDS); unknown keys are never remembered.
    """

    MAX_ENTRIES = 1024

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, SiteIdentity]] = {}

    def get(self, digest: str) -> SiteIdentity | None:
        """Return the site of a key seen valid less than ttl seconds ago, else None."""
        entry = self._entries.get(digest)
        if entry is None or self._clock() - entry[0] >= self.ttl:
            return None
        return entry[1]

    def put(self, digest: str, site: SiteIdentity) -> None:
        """Remember that this key was valid just now."""
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[digest] = (self._clock(), site)

    def clear(self) -> None:
        """Forget every key (this process revoked one)."""
        self._entries.clear()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of this request."""

    kind: PrincipalKind
    site: SiteIdentity | None = None
    user: User | None = None

    @property
    def role(self) -> Role | None:
        """Return the user's role (sites have none)."""
        return self.user.role if self.user else None

    @property
    def label(self) -> str:
        """Return a name for audit events."""
        if self.user is not None:
            return self.user.email
        return site_actor(self.site.name) if self.site else "anonymous"


def site_actor(name: str) -> str:
    """Return the audit-event actor of a site (its intake events and its own decisions)."""
    return SITE_ACTOR_PREFIX + name


def hash_secret(secret: str) -> str:
    """Hash a high-entropy secret (API key or token) for storage and lookup."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret(prefix: str) -> str:
    """Return a fresh random secret with a recognisable prefix."""
    return prefix + secrets.token_urlsafe(32)


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "Unauthorized",
        detail,
        type="/problems/unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="moderation"'},
    )


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("The Authorization header must be 'Bearer <key>'.")
    return token.strip()


def _principal_from_bearer(session: Session, token: str) -> Principal:
    digest = hash_secret(token)
    if token.startswith(SITE_KEY_PREFIX):
        return Principal(PrincipalKind.SITE, site=_site_of_key(session, digest))
    if token.startswith(USER_TOKEN_PREFIX):
        user = session.scalar(select(User).where(User.token_hash == digest))
        if user is None:
            raise _unauthorized("The API token is not valid.")
        if user.disabled:
            raise _unauthorized("The account of this API token is disabled.")
        return Principal(PrincipalKind.TOKEN, user=user)
    raise _unauthorized("The bearer token is neither a site key nor an API token.")


def _site_of_key(session: Session, digest: str) -> SiteIdentity:
    cache: SiteKeyCache = current_app.extensions[SITE_KEYS]
    known = cache.get(digest)
    if known is not None:
        return known
    site = session.scalar(select(Site).where(Site.key_hash == digest))
    if site is None:
        raise _unauthorized("The site key is not valid.")
    if site.revoked_at is not None:
        raise _unauthorized("The site key has been revoked.")
    identity = SiteIdentity(id=site.id, name=site.name)
    cache.put(digest, identity)
    return identity


def forget_site_keys() -> None:
    """Drop this process's remembered keys, so a revocation here applies at once."""
    current_app.extensions[SITE_KEYS].clear()


def current_principal() -> Principal | None:
    """Return this request's caller: a bearer token first, else the signed-in session."""
    if "principal" not in g:
        token = _bearer_token()
        if token is not None:
            g.principal = _principal_from_bearer(get_session(), token)
        elif current_user.is_authenticated:
            g.principal = Principal(PrincipalKind.SESSION, user=current_user.user)
        else:
            g.principal = None
    return g.principal


def site_principal(
    missing: str = "A site key is required: 'Authorization: Bearer <key>'.",
) -> Principal:
    """Return this request's caller if it is a site; 401 (`missing`) or 403 otherwise."""
    principal = current_principal()
    if principal is None:
        raise _unauthorized(missing)
    if principal.kind is not PrincipalKind.SITE:
        raise Problem(403, "Forbidden", "This endpoint is for sites (site keys).")
    return principal


def require_site(view: F) -> F:
    """Let only a site (by its API key) call the view; the site is g.principal.site."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        site_principal()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def check_role(principal: Principal | None, role: Role) -> Principal:
    """Raise 401/403 unless the caller is a user with `role` (admins pass every check)."""
    if principal is None:
        raise _unauthorized("Sign in, or send a personal API token as a Bearer token.")
    if principal.user is None:
        raise Problem(403, "Forbidden", f"This endpoint needs the {role} role.")
    if principal.user.role is not Role.ADMIN and principal.user.role is not role:
        raise Problem(403, "Forbidden", f"This endpoint needs the {role} role.")
    if principal.kind is PrincipalKind.SESSION and request.method not in (
        "GET",
        "HEAD",
        "OPTIONS",
    ):
        current_app.extensions[CSRF].protect()
    return principal


def require_role(role: Role) -> Callable[[F], F]:
    """Let only users with `role` call the view (token or session; CSRF on sessions)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            check_role(current_principal(), role)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def page_role(role: Role) -> Callable[[F], F]:
    """For pages: send anonymous visitors to sign in, then let only users with `role` in."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal is None:
                return redirect(url_for("review.login", next=request.full_path.rstrip("?")))
            check_role(principal, role)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def require_any(view: F) -> F:
    """Let a site or any signed-in user call the view."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        principal = current_principal()
        if principal is None:
            raise _unauthorized("Send a site key or an API token as a Bearer token.")
        if principal.kind is not PrincipalKind.SITE:
            check_role(principal, Role.MODERATOR)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def require_moderator_or_site(view: F) -> F:
    """Let a moderator, or a site (acting on its own comments: the view checks), call it."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        principal = current_principal()
        if principal is None or principal.kind is not PrincipalKind.SITE:
            check_role(principal, Role.MODERATOR)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


class SessionUser:
    """The Flask-Login user object: a User reached through a live LoginSession row."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User, token: str) -> None:
        self.user = user
        self._token = token

    def get_id(self) -> str:
        """Return the login-session token kept in the cookie (not the user id)."""
        return self._token


def start_login_session(session: Session, user: User) -> SessionUser:
    """Record a new browser session for `user`; pass the result to login_user()."""
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=hash_secret(token), user_id=user.id))
    return SessionUser(user, token)


def end_login_session(session: Session, token: str) -> None:
    """Delete one browser session so that its cookie stops working everywhere."""
    session.execute(delete(LoginSession).where(LoginSession.token_hash == hash_secret(token)))


def end_all_login_sessions(session: Session, user_id: int) -> None:
    """End every browser session of a user (password change, disabled account)."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))


SEEN_KEY = "seen"  # in the signed session cookie: when this browser session was last used
SEEN_RESOLUTION_SECONDS = 60  # refreshed at most this often (each refresh is a Set-Cookie)


def mark_seen() -> None:
    """Record in the signed session cookie that the browser session is in use now."""
    cookie_session[SEEN_KEY] = time.time()


def _expired(login: LoginSession) -> bool:
    """Return whether a browser session is past its absolute or idle timeout."""
    config = current_app.config
    age = (utcnow() - login.created_at).total_seconds()
    if age > float(config["SESSION_MAX_SECONDS"]):
        return True
    seen = cookie_session.get(SEEN_KEY)
    if not isinstance(seen, int | float):
        return True
    idle = time.time() - seen
    if idle > float(config["SESSION_IDLE_SECONDS"]):
        return True
    if idle > SEEN_RESOLUTION_SECONDS:
        mark_seen()
    return False


def _load_session_user(token: str) -> SessionUser | None:
    login = get_session().scalar(
        select(LoginSession).where(LoginSession.token_hash == hash_secret(token))
    )
    if login is None or login.user.disabled or _expired(login):
        return None
    return SessionUser(login.user, token)


def init_app(app: Flask) -> None:
    """Set up Flask-Login (server-side sessions) and CSRF protection for the pages."""
    # CSRF is checked where a cookie authenticates a state change (check_role and
    # the page forms), not on bearer-token API calls, which browsers cannot forge.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf = CSRFProtect(app)
    app.extensions[CSRF] = csrf
    app.extensions[SITE_KEYS] = SiteKeyCache(float(app.config["SITE_KEY_TTL_SECONDS"]))
    manager = LoginManager(app)
    manager.login_view = "review.login"
    manager.session_protection = None
    manager.user_loader(_load_session_user)
