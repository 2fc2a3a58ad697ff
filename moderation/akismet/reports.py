"""The service's own figures in Akismet's shapes: usage-limit, key-sites, stats, subscription.

A key belongs to one site here, so key-sites lists that site. "spam" counts the comments
decided spam, "ham" the others; "missed_spam" and "false_positives" count the site's
corrections (submit-spam / submit-ham that changed a comment, and the examples kept
for comments never checked). There is no usage limit.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.auth import SiteIdentity
from moderation.auth import site_actor
from moderation.tables import AkismetReport
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Status
from moderation.tables import utcnow

MONTH = re.compile(r"(\d{4})-(\d{2})")
KEY_SITES_LIMIT = 500
SECONDS_SAVED_PER_SPAM = 5  # time_saved: what a moderator would spend on each spam


@dataclass
class Counts:
    """Spam, ham and the site's corrections over one period."""

    spam: int = 0
    ham: int = 0
    missed_spam: int = 0
    false_positives: int = 0

    @property
    def calls(self) -> int:
        """Return the calls these counts stand for."""
        return self.spam + self.ham + self.missed_spam + self.false_positives

    def as_dict(self) -> dict[str, int]:
        """Return the four counts."""
        return {
            "spam": self.spam,
            "ham": self.ham,
            "missed_spam": self.missed_spam,
            "false_positives": self.false_positives,
        }


def _bucket(column: Any, chars: int, dialect: str) -> ColumnElement[str]:
    """Return the first `chars` characters of a UTC timestamp's ISO form, in SQL."""
    if dialect == "postgresql":
        pattern = {4: "YYYY", 7: "YYYY-MM", 10: "YYYY-MM-DD"}[chars]
        return func.to_char(func.timezone("UTC", column), pattern)
    return func.substr(column, 1, chars)  # SQLite stores "YYYY-MM-DD HH:MM:SS..." in UTC


def count_by_period(
    session: Session, site: SiteIdentity, start: datetime, end: datetime, chars: int
) -> dict[str, Counts]:
    """Return the counts per period (the first `chars` characters of the date)."""
    dialect = session.get_bind().dialect.name
    periods: dict[str, Counts] = {}

    def counts(period: str) -> Counts:
        return periods.setdefault(period, Counts())

    bucket = _bucket(Comment.created_at, chars, dialect)
    rows = session.execute(
        select(bucket, Comment.status, func.count())
        .where(Comment.site_id == site.id, Comment.created_at >= start, Comment.created_at < end)
        .group_by(bucket, Comment.status)
    )
    for period, status, n in rows:
        if status is Status.SPAM:
            counts(period).spam += n
        else:
            counts(period).ham += n
    bucket = _bucket(AuditEvent.at, chars, dialect)
    rows = session.execute(
        select(bucket, AuditEvent.from_status, AuditEvent.to_status, func.count())
        .where(
            AuditEvent.actor == site_actor(site.name),
            AuditEvent.from_status.is_not(None),
            AuditEvent.at >= start,
            AuditEvent.at < end,
        )
        .group_by(bucket, AuditEvent.from_status, AuditEvent.to_status)
    )
    for period, before, after, n in rows:
        if after is Status.SPAM:
            counts(period).missed_spam += n
        elif before is Status.SPAM and after is Status.APPROVED:
            counts(period).false_positives += n
    bucket = _bucket(AkismetReport.created_at, chars, dialect)
    rows = session.execute(
        select(bucket, AkismetReport.spam, func.count())
        .where(
            AkismetReport.site_id == site.id,
            AkismetReport.created_at >= start,
            AkismetReport.created_at < end,
        )
        .group_by(bucket, AkismetReport.spam)
    )
    for period, spam, n in rows:
        if spam:
            counts(period).missed_spam += n
        else:
            counts(period).false_positives += n
    return periods


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def _total(periods: Mapping[str, Counts]) -> Counts:
    total = Counts()
    for counts in periods.values():
        total.spam += counts.spam
        total.ham += counts.ham
        total.missed_spam += counts.missed_spam
        total.false_positives += counts.false_positives
    return total


def usage_limit(session: Session, site: SiteIdentity) -> dict[str, Any]:
    """Return Akismet's usage-limit answer: this month's calls, no limit."""
    start = _month_start(utcnow())
    periods = count_by_period(session, site, start, _next_month(start), 7)
    return {
        "limit": "none",
        "usage": _total(periods).calls,
        "percentage": "0.00",
        "throttled": False,
    }


def _int_field(value: str | None, default: int, low: int, high: int) -> int:
    text = (value or "").strip()
    if not text.isascii() or not text.isdecimal() or len(text) > 9:
        return default
    return min(max(int(text), low), high)


@dataclass
class KeySites:
    """One month of a key's sites, Akismet's key-sites report."""

    month: str
    limit: int
    offset: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    def as_json(self) -> dict[str, Any]:
        """Return Akismet's JSON shape: {month: [rows], limit, offset, total}."""
        return {
            self.month: self.rows,
            "limit": self.limit,
            "offset": self.offset,
            "total": self.total,
        }


def key_sites(session: Session, site: SiteIdentity, fields: Mapping[str, str]) -> KeySites:
    """Return the key's sites (here the one it belongs to) for the month asked (YYYY-MM)."""
    now = utcnow()
    start = _month_start(now)
    match = MONTH.fullmatch((fields.get("month") or "").strip())
    if match and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) >= 1970:
        start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)
    report = KeySites(
        month=start.strftime("%Y-%m"),
        limit=_int_field(fields.get("limit"), KEY_SITES_LIMIT, 1, KEY_SITES_LIMIT),
        offset=_int_field(fields.get("offset"), 0, 0, 10**9),
    )
    wanted = (fields.get("filter") or "").strip().lower()
    if wanted and wanted not in site.name.lower():
        return report
    counts = _total(count_by_period(session, site, start, _next_month(start), 7))
    row = {"site": site.name, "api_calls": counts.calls, **counts.as_dict(), "is_revoked": False}
    report.total = 1
    report.rows = [row][report.offset : report.offset + report.limit]
    return report


def key_sites_csv(report: KeySites, key: str) -> str:
    """Return Akismet's csv form of the report (a title line, then the table)."""
    out = io.StringIO()
    out.write(
        f"Active sites for {key} during {report.month}"
        f" (limit:{report.limit}, offset: {report.offset}, total: {report.total})\n"
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["Site", "Total API Calls", "Spam", "Ham", "Missed Spam", "False Positives", "Is Revoked"]
    )
    for row in report.rows:
        writer.writerow(
            [
                row["site"],
                row["api_calls"],
                row["spam"],
                row["ham"],
                row["missed_spam"],
                row["false_positives"],
                "true" if row["is_revoked"] else "false",
            ]
        )
    return out.getvalue()


def _periods_of(span: str, now: datetime) -> tuple[datetime, int, list[str]]:
    """Return the start, the date prefix length and the period names of a stats span."""
    if span == "60-days":
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        days = [today - timedelta(days=n) for n in range(59, -1, -1)]
        return days[0], 10, [day.strftime("%Y-%m-%d") for day in days]
    if span == "all":
        return datetime(1970, 1, 1, tzinfo=UTC), 4, []
    months = [_month_start(now)]
    for _ in range(5):
        months.insert(0, _month_start(months[0] - timedelta(days=1)))
    return months[0], 7, [month.strftime("%Y-%m") for month in months]


def stats(session: Session, site: SiteIdentity, span: str, *, per_key: bool) -> dict[str, Any]:
    """Return Akismet's get-stats (per_key: get-key-stats) answer for 60-days, 6-months, all."""
    now = utcnow()
    span = span.strip().lower()
    start, chars, names = _periods_of(span, now)
    periods = count_by_period(session, site, start, now + timedelta(seconds=1), chars)
    names = sorted(set(names) | set(periods), reverse=True)
    breakdown = {}
    for name in names:
        counts = periods.get(name, Counts())
        entry: dict[str, Any] = counts.as_dict()
        if per_key:
            entry["blogs"] = 1
        entry["da"] = (name + "-01-01")[:10] if chars == 4 else (name + "-01")[:10]
        breakdown[name] = entry
    total = _total(periods)
    checked = total.spam + total.ham
    wrong = total.missed_spam + total.false_positives
    accuracy = round(100.0 * max(checked - wrong, 0) / checked, 2) if checked else 100.0
    return {
        **total.as_dict(),
        "accuracy": accuracy,
        "breakdown": breakdown,
        "time_saved": total.spam * SECONDS_SAVED_PER_SPAM,
    }


def subscription(site: SiteIdentity, key: str) -> dict[str, Any]:
    """Return what WordPress's settings screen reads of get-subscription: an active key."""
    return {
        "account_id": site.id,
        "account_name": site.name,
        "account_type": "self-hosted",
        "status": "active",
        "api_key": key.strip(),
        "user_login": site.name,
        "user_email": "",
        "next_billing_date": None,
        "limit_reached": False,
    }
