"""Failed sign-ins: limits that slow guessing, tell nothing and never lock the owner out.

Three counters, each a row of login_throttles:
- per (client address, login typed): a few failures block that pair only, so whoever
  guesses one account from one address is stopped, and the owner elsewhere is not;
- per client address: many failures, whatever the logins, block that address;
- per login typed, from every address: many failures block that login everywhere
  except in a browser where it signed in before (a signed "known device" cookie), so a
  distributed guess is slowed and the owner's own browser still gets in.
Logins are keyed by a hash of what was typed, known account or not: both get the same
answers and the same limits. Each new block of a key lasts twice as long as its last.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from moderation.tables import LoginThrottle

DEVICE_COOKIE = "moderation_device"
DEVICE_SALT = "moderation.known-device"
DEVICE_MAX_AGE = 180 * 24 * 3600


class Scope(enum.StrEnum):
    """What a failure counter counts."""

    PAIR = "pair"  # one client address, one login
    CLIENT = "client"  # one client address, any login
    LOGIN = "login"  # one login, any address


@dataclass(frozen=True)
class Limits:
    """Failures allowed per scope within `window`, and the first block's length."""

    pair: int
    client: int
    login: int
    lock: timedelta
    max_lock: timedelta
    window: timedelta

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        """Read the MODERATION_LOGIN_* settings."""
        return cls(
            pair=int(config["LOGIN_MAX_FAILURES"]),
            client=int(config["LOGIN_CLIENT_MAX_FAILURES"]),
            login=int(config["LOGIN_ACCOUNT_MAX_FAILURES"]),
            lock=timedelta(seconds=float(config["LOGIN_LOCK_SECONDS"])),
            max_lock=timedelta(seconds=float(config["LOGIN_MAX_LOCK_SECONDS"])),
            window=timedelta(seconds=float(config["LOGIN_FAILURE_WINDOW_SECONDS"])),
        )

    def of(self, scope: Scope) -> int:
        """Return the failures allowed in this scope."""
        return {Scope.PAIR: self.pair, Scope.CLIENT: self.client, Scope.LOGIN: self.login}[scope]


@dataclass(frozen=True)
class Keys:
    """The counter keys of one sign-in attempt."""

    login_digest: str
    by_scope: dict[Scope, str]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def keys_for(client: str, login: str) -> Keys:
    """Return the keys of an attempt from `client` (an address) with `login` as typed."""
    login_digest = _digest(login.strip().casefold())
    return Keys(
        login_digest,
        {
            Scope.PAIR: f"pair:{_digest(client + '|' + login_digest)}",
            Scope.CLIENT: f"client:{client[:64]}",
            Scope.LOGIN: f"login:{login_digest}",
        },
    )


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=DEVICE_SALT)


def device_cookie(secret: str, keys: Keys) -> str:
    """Return the cookie value saying this browser signed in with this login."""
    return _serializer(secret).dumps(keys.login_digest)


def is_known_device(secret: str, cookie: str | None, keys: Keys) -> bool:
    """Return whether the browser's cookie says it signed in with this login before."""
    if not cookie:
        return False
    try:
        digest = _serializer(secret).loads(cookie, max_age=DEVICE_MAX_AGE)
    except BadSignature:
        return False
    return digest == keys.login_digest


def blocked_until(
    session: Session, keys: Keys, now: datetime, *, known_device: bool
) -> datetime | None:
    """Return until when this attempt is refused without a password check, or None."""
    scopes = [Scope.PAIR, Scope.CLIENT] + ([] if known_device else [Scope.LOGIN])
    rows = session.scalars(
        select(LoginThrottle.blocked_until).where(
            LoginThrottle.key.in_([keys.by_scope[s] for s in scopes]),
            LoginThrottle.blocked_until > now,
        )
    )
    return max(rows, default=None)


def _upsert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def record_failure(session: Session, keys: Keys, now: datetime, limits: Limits) -> datetime | None:
    """Count a failed attempt in each scope; return until when it is now blocked, if it is."""
    insert = _upsert(session)
    window_start = now - limits.window
    until: datetime | None = None
    for scope, key in keys.by_scope.items():
        table = LoginThrottle.__table__
        stale = table.c.first_failure_at < window_start
        stmt = insert(table).values(key=key, failures=1, first_failure_at=now, strikes=0)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case((stale, 1), else_=table.c.failures + 1),
                "first_failure_at": case((stale, now), else_=table.c.first_failure_at),
            },
        ).returning(table.c.failures, table.c.strikes)
        failures, strikes = session.execute(stmt).one()
        if failures < limits.of(scope):
            continue
        length = min(limits.lock * 2 ** min(strikes, 16), limits.max_lock)
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(
                failures=0, first_failure_at=now, strikes=strikes + 1, blocked_until=now + length
            )
        )
        until = max(until, now + length) if until else now + length
    return until


def record_success(session: Session, keys: Keys) -> None:
    """Forget this client's failures with this login (the others keep counting)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys.by_scope[Scope.PAIR]))
