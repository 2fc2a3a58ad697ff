"""Password sign-in: check a login and password the same way whether the account exists."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from moderation.accounts import normalize_email
from moderation.tables import User

# Checked against when the login is unknown, so both answers take as long.
_DUMMY_HASHES: dict[str, str] = {}


class Outcome(enum.StrEnum):
    """How a sign-in attempt ended."""

    SIGNED_IN = "signed_in"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Attempt:
    """The outcome, and the user when known."""

    outcome: Outcome
    user: User | None = None


def _dummy_hash(like: str) -> str:
    method = like.split("$", 1)[0] or "scrypt"
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash("not a password", method=method)
    return _DUMMY_HASHES[method]


def authenticate(session: Session, email: str, password: str) -> Attempt:
    """Check a login and password; an unknown login costs the same hash check (no commit).

    Failed attempts are counted by moderation.review.throttle, per client and login
    typed, never on the account: a lock on the account would let anyone lock the owner
    out and would tell which accounts exist.
    """
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        any_user_hash = session.scalar(select(User.password_hash).limit(1)) or ""
        check_password_hash(_dummy_hash(any_user_hash), password)
        return Attempt(Outcome.BAD_CREDENTIALS)
    if not check_password_hash(user.password_hash, password):
        return Attempt(Outcome.BAD_CREDENTIALS, user)
    if user.disabled:
        return Attempt(Outcome.DISABLED, user)
    return Attempt(Outcome.SIGNED_IN, user)
