"""Admin settings stored in the database, so every worker sees the same values."""

from __future__ import annotations

import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import fields
from dataclasses import replace
from typing import Any

from flask import Flask
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.tables import Setting
from moderation.tables import utcnow


@dataclass(frozen=True)
class ModerationSettings:
    """The tunable part of the decision step (defaults are WordPress's and the brief's)."""

    spam_threshold: float = 0.90
    hold_threshold: float = 0.50
    disallowed_words: tuple[str, ...] = ()
    moderation_words: tuple[str, ...] = ()
    trust_new_authors: bool = False
    max_links: int = 2
    # A comment whose own words score below the spam threshold is held, not sent to
    # spam, when only its links, or only its length, capitals, digits and repeats, push
    # it over (the corpora teach "a link = spam" and "long = spam").
    links_alone_never_spam: bool = True
    # Akismet's comment-check: a comment held for review answers "true" (spam) when set;
    # by default "false", so that the site's own holding rules then apply.
    akismet_held_is_spam: bool = False
    # Spam scored at or above it gets Akismet's "X-akismet-pro-tip: discard".
    akismet_discard_score: float = 0.99

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready values."""
        data = asdict(self)
        data["disallowed_words"] = list(self.disallowed_words)
        data["moderation_words"] = list(self.moderation_words)
        return data


CACHE = "moderation.settings"
SETTING_NAMES = frozenset(f.name for f in fields(ModerationSettings))


def load_settings(session: Session) -> ModerationSettings:
    """Read the current settings (unset keys keep their defaults)."""
    stored = {
        row.key: row.value
        for row in session.scalars(select(Setting).where(Setting.key.in_(SETTING_NAMES)))
    }
    for key in ("disallowed_words", "moderation_words"):
        if key in stored:
            stored[key] = tuple(stored[key])
    return replace(ModerationSettings(), **stored)


class SettingsCache:
    """Per-process copy of the settings, re-read at most every `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._loaded: tuple[float, ModerationSettings] | None = None

    def get(self, session: Session) -> ModerationSettings:
        """Return the settings, from the database when the copy is older than ttl."""
        loaded = self._loaded
        now = time.monotonic()
        if loaded is None or now - loaded[0] >= self.ttl:
            loaded = (now, load_settings(session))
            self._loaded = loaded
        return loaded[1]


def init_app(app: Flask) -> None:
    """Give this process its settings cache (SETTINGS_TTL_SECONDS, 0 to always read)."""
    app.extensions[CACHE] = SettingsCache(float(app.config["SETTINGS_TTL_SECONDS"]))


def current_settings(session: Session) -> ModerationSettings:
    """Return the settings every worker agrees on within SETTINGS_TTL_SECONDS."""
    return current_app.extensions[CACHE].get(session)


def save_settings(session: Session, changes: dict[str, Any], actor: str) -> ModerationSettings:
    """Store validated changes (see schemas.SettingsPatch) and return the new settings."""
    now = utcnow()
    for key, value in changes.items():
        if key not in SETTING_NAMES:
            raise KeyError(key)
        stored = list(value) if isinstance(value, tuple | list) else value
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value=stored, updated_at=now, updated_by=actor))
        else:
            row.value = stored
            row.updated_at = now
            row.updated_by = actor
    session.flush()
    return load_settings(session)
