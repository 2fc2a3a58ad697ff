"""Akismet-style keys: issue, revoke, find the caller's key, limit failed attempts.

Akismet keys are 12 lowercase hex characters, and WordPress's plugin refuses any other
shape; some clients send the key as the first label of the host name
(`KEY.rest.akismet.com`), which DNS lower-cases. So each site may also get such a key,
shown once and stored as an HMAC keyed with the app's secret (a leaked table alone does
not let anyone try the 2^48 keys offline). Online guessing is stopped by a limit on
failed Akismet-key attempts per client address, kept in the database so that it holds
across worker processes and hosts; past the limit, Akismet keys are not even checked.
Site keys (256 bits) are not limited: guessing them is hopeless, and a site using one
cannot be locked out by someone else's failures from a shared address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from flask import current_app
from flask import request
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from moderation.auth import SITE_KEY_PREFIX
from moderation.auth import SITE_KEYS
from moderation.auth import SiteIdentity
from moderation.auth import SiteKeyCache
from moderation.auth import hash_secret
from moderation.tables import AkismetKeyFailure
from moderation.tables import Site
from moderation.tables import UTCDateTime
from moderation.tables import utcnow

AKISMET_KEY = re.compile(r"[0-9a-f]{12}")
AKISMET_KEY_BYTES = 6


class KeyRefused(Exception):
    """The caller's key is missing, unknown or revoked, or its address tried too often."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def akismet_key_hash(key: str) -> str:
    """Return the stored form of an Akismet key (HMAC-SHA256 with the app's secret)."""
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(secret, key.encode("ascii"), hashlib.sha256).hexdigest()


def issue_akismet_key(session: Session, site: Site) -> str:
    """Give the site a new Akismet key (replacing any earlier one) and return it."""
    while True:
        key = secrets.token_hex(AKISMET_KEY_BYTES)
        digest = akismet_key_hash(key)
        taken = session.scalar(select(Site.id).where(Site.akismet_key_hash == digest))
        if taken is None:
            break
    site.akismet_key_hash = digest
    session.flush()
    return key


def revoke_akismet_key(site: Site) -> None:
    """Remove the site's Akismet key: calls with it are refused from now on."""
    site.akismet_key_hash = None


def normalize_akismet_key(candidate: str) -> str | None:
    """Return the key in its canonical form if it has Akismet's shape, else None."""
    key = candidate.strip().lower()
    return key if AKISMET_KEY.fullmatch(key) else None


def key_from_host(host: str) -> str | None:
    """Return the Akismet key in the first label of a host name (`KEY.example.org`)."""
    label = host.split(":", 1)[0].split(".", 1)[0]
    return normalize_akismet_key(label)


def _site_of_digest(session: Session, column: object, digest: str) -> SiteIdentity | None:
    cache: SiteKeyCache = current_app.extensions[SITE_KEYS]
    known = cache.get(digest)
    if known is not None:
        return known
    site = session.scalar(select(Site).where(column == digest))
    if site is None or site.revoked_at is not None:
        return None
    identity = SiteIdentity(id=site.id, name=site.name)
    cache.put(digest, identity)
    return identity


def site_of_key(session: Session, key: str) -> SiteIdentity | None:
    """Return the site whose Akismet key or site key this is (unrevoked), else None."""
    key = key.strip()
    if key.startswith(SITE_KEY_PREFIX):
        return _site_of_digest(session, Site.key_hash, hash_secret(key))
    canonical = normalize_akismet_key(key)
    if canonical is None:
        return None
    return _site_of_digest(session, Site.akismet_key_hash, akismet_key_hash(canonical))


@dataclass(frozen=True)
class FailureLimit:
    """At most `failures` failed key attempts per address in `window` seconds."""

    failures: int
    window: float

    @classmethod
    def from_config(cls) -> FailureLimit:
        """Read AKISMET_KEY_FAILURES and AKISMET_KEY_FAILURE_WINDOW_SECONDS."""
        config = current_app.config
        return cls(
            int(config["AKISMET_KEY_FAILURES"]),
            float(config["AKISMET_KEY_FAILURE_WINDOW_SECONDS"]),
        )


def client_address() -> str:
    """Return the address failed attempts are counted by (the request's peer)."""
    return (request.remote_addr or "unknown")[:64]


def too_many_failures(session: Session, address: str, limit: FailureLimit, now: datetime) -> bool:
    """Say whether this address has used up its failed attempts for the current window."""
    row = session.get(AkismetKeyFailure, address)
    if row is None:
        return False
    return row.failures >= limit.failures and now - row.window_start < timedelta(
        seconds=limit.window
    )


# One statement, valid on SQLite and PostgreSQL: a new window starts when the old one
# has ended, otherwise the count goes up; the row lock serialises concurrent workers.
_COUNT_FAILURE = text(
    "INSERT INTO akismet_key_failures (address, window_start, failures) "
    "VALUES (:address, :now, 1) "
    "ON CONFLICT (address) DO UPDATE SET "
    "failures = CASE WHEN akismet_key_failures.window_start <= :cutoff "
    "THEN 1 ELSE akismet_key_failures.failures + 1 END, "
    "window_start = CASE WHEN akismet_key_failures.window_start <= :cutoff "
    "THEN :now ELSE akismet_key_failures.window_start END"
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("cutoff", type_=UTCDateTime()))


def count_failure(session: Session, address: str, limit: FailureLimit, now: datetime) -> None:
    """Record one failed key attempt of this address (the caller commits)."""
    cutoff = now - timedelta(seconds=limit.window)
    session.execute(_COUNT_FAILURE, {"address": address, "now": now, "cutoff": cutoff})


def authenticate(session: Session, candidates: list[str]) -> SiteIdentity:
    """Return the site of the first key given; count a failed Akismet key per address.

    Only Akismet-shaped keys (48 bits) are limited: a site key (256 bits) cannot be
    guessed, so it is always checked, and a key of neither shape is refused unchecked.

    :raises KeyRefused: no key, an unknown or revoked key, or, for an Akismet key, too
        many failures from this address (then it is not even checked).
    """
    keys = [key.strip() for key in candidates if key.strip()]
    if not keys:
        raise KeyRefused('Empty "api_key" value')
    invalid = "Invalid API key: it is not the Akismet key or site key of a site."
    if keys[0].startswith(SITE_KEY_PREFIX):
        site = site_of_key(session, keys[0])
        if site is None:
            raise KeyRefused(invalid)
        return site
    if normalize_akismet_key(keys[0]) is None:
        raise KeyRefused(invalid + " (An Akismet key is 12 hex characters.)")
    limit = FailureLimit.from_config()
    address = client_address()
    now = utcnow()
    if too_many_failures(session, address, limit, now):
        raise KeyRefused(
            "Too many invalid keys from your address: try again later"
            f" (at most {limit.failures} in {limit.window:g} s)."
        )
    site = site_of_key(session, keys[0])
    if site is None:
        count_failure(session, address, limit, now)  # the view commits it, even so
        raise KeyRefused(invalid)
    return site
