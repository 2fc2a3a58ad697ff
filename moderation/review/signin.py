"""Password sign-in with a failed-login limit (the counters live on the users row)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy import update
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
    """The outcome, the user when known, and until when the account is locked."""

    outcome: Outcome
    user: User | None = None
    locked_until: datetime | None = None


def _dummy_hash(like: str) -> str:
    method = like.split("$", 1)[0] or "scrypt"
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash("not a password", method=method)
    return _DUMMY_HASHES[method]


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    now: datetime,
    max_failures: int,
    lock_seconds: int,
) -> Attempt:
    """Check a login and password, counting failures and locking after too many (no commit)."""
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        any_user_hash = session.scalar(select(User.password_hash).limit(1)) or ""
        check_password_hash(_dummy_hash(any_user_hash), password)
        return Attempt(Outcome.BAD_CREDENTIALS)
    if user.locked_until is not None and user.locked_until > now:
        # While locked even the right password is refused: guessing gains nothing.
        return Attempt(Outcome.LOCKED, user, user.locked_until)
    if not check_password_hash(user.password_hash, password):
        return _count_failure(session, user, now, max_failures, lock_seconds)
    if user.disabled:
        return Attempt(Outcome.DISABLED, user)
    user.failed_logins = 0
    user.locked_until = None
    return Attempt(Outcome.SIGNED_IN, user)


def _count_failure(
    session: Session, user: User, now: datetime, max_failures: int, lock_seconds: int
) -> Attempt:
    # One atomic UPDATE: concurrent guesses in several workers are all counted.
    failures = session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    if failures < max_failures:
        session.refresh(user)
        return Attempt(Outcome.BAD_CREDENTIALS, user)
    until = now + timedelta(seconds=lock_seconds)
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=0, locked_until=until)
        .execution_options(synchronize_session=False)
    )
    session.refresh(user)
    return Attempt(Outcome.LOCKED, user, until)
