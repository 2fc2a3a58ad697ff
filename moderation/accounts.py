"""Sites and users: create, revoke, disable, tokens (secrets are stored hashed)."""

from __future__ import annotations

from flask import current_app
from flask import has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from moderation.auth import SITE_KEY_PREFIX
from moderation.auth import USER_TOKEN_PREFIX
from moderation.auth import end_all_login_sessions
from moderation.auth import hash_secret
from moderation.auth import new_secret
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import User
from moderation.tables import utcnow


def hash_password(password: str) -> str:
    """Hash a password with werkzeug (method from PASSWORD_HASH_METHOD, scrypt by default)."""
    method = current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else "scrypt"
    return generate_password_hash(password, method=method)


class AccountError(ValueError):
    """A site or user cannot be created or changed as asked."""


def create_site(session: Session, name: str) -> tuple[Site, str]:
    """Create a site and return it with its key (shown once, stored hashed)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("a site name must be 1 to 100 characters")
    if session.scalar(select(Site).where(Site.name == name)) is not None:
        raise AccountError(f"a site named {name!r} exists already")
    key = new_secret(SITE_KEY_PREFIX)
    site = Site(name=name, key_hash=hash_secret(key), key_prefix=key[:10])
    session.add(site)
    session.flush()
    return site, key


def revoke_site(session: Session, name: str) -> Site:
    """Revoke a site's key: its calls are refused from now on."""
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        raise AccountError(f"there is no site named {name!r}")
    if site.revoked_at is None:
        site.revoked_at = utcnow()
    return site


def normalize_email(email: str) -> str:
    """Return the login form of an email address (trimmed, lower case)."""
    return email.strip().lower()


def create_user(session: Session, email: str, password: str, role: Role) -> User:
    """Create a moderator or admin with a hashed password."""
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError("the login must be an email address")
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters")
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise AccountError(f"a user {email!r} exists already")
    user = User(email=email, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> User:
    """Return the user with this login or raise AccountError."""
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise AccountError(f"there is no user {email!r}")
    return user


def issue_token(session: Session, user: User) -> str:
    """Give the user a new personal API token (replacing any earlier one)."""
    token = new_secret(USER_TOKEN_PREFIX)
    user.token_hash = hash_secret(token)
    return token


def set_password(session: Session, user: User, password: str) -> None:
    """Change a password and end every browser session of the user."""
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters")
    user.password_hash = hash_password(password)
    end_all_login_sessions(session, user.id)


def set_disabled(session: Session, user: User, disabled: bool) -> None:
    """Disable or re-enable an account; disabling ends its sessions and token."""
    user.disabled = disabled
    if disabled:
        user.token_hash = None
        end_all_login_sessions(session, user.id)
