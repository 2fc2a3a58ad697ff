"""Helpers shared by the admin, job and retraining tests: tiny corpora and a base version."""

from __future__ import annotations

import hashlib
import random
from typing import Any

from flask import Flask
from sqlalchemy import select

from moderation import db
from moderation.classifier import Doc
from moderation.classifier.artifact import dump_artifact
from moderation.classifier.artifact import library_versions
from moderation.retraining import Example
from moderation.tables import AuditEvent
from moderation.tables import ClassifierVersion
from moderation.tables import Comment
from moderation.tables import Status
from moderation.tables import User
from moderation.tables import utcnow
from moderation.training import fit

HAM = [
    "Thanks for the clear write-up, it helped me a lot.",
    "I disagree with the second point, but the examples are good.",
    "Great article, I shared it with my team.",
    "Could you write a follow-up about testing?",
    "This explains the bug I had last week, thank you.",
    "Nice photos from the trip, the mountains look beautiful.",
    "My grandmother used to make this recipe every winter.",
    "The library docs say the same thing, good summary.",
    "I tried this on my laptop and it worked fine.",
    "Interesting read, though the conclusion feels rushed.",
    "Where did you find the data for the second chart?",
    "Lovely post, reminds me of my first job.",
]
SPAM = [
    "Buy cheap pills online now, free shipping, click here",
    "FREE MONEY!!! Click here to win a prize http://win.example.com",
    "Cheap loans approved instantly, visit our website now",
    "Earn $5000 a week from home, click this link",
    "Hot singles in your area, click here now",
    "Best casino bonus, claim your free spins today",
    "Discount watches replica cheap cheap, order now",
    "Win a free iPhone, just click and enter your details",
]
# A site's own spam the base corpus never saw: it looks like a friendly comment.
NOVEL_TOPICS = ["bitcoin", "ethereum", "dogecoin", "solana", "crypto", "altcoin"]
NOVEL_TEMPLATES = [
    "Join my telegram group for {t} signals, my mentor doubled my savings",
    "Thanks for sharing! I made great profits with {t} signals from telegram mentor Anna",
    "Telegram mentor Anna helped me with {t} trading, message her for signals",
    "Great post. Also {t} signals on telegram changed my life, ask mentor Anna",
]


def novel_spam(n: int, seed: int = 0) -> list[str]:
    """Return n variants of the site's novel spam."""
    rng = random.Random(seed)  # noqa: S311 (test data)
    return [
        rng.choice(NOVEL_TEMPLATES).format(t=rng.choice(NOVEL_TOPICS)) + f" #{i}" for i in range(n)
    ]


def site_ham(n: int, seed: int = 0) -> list[str]:
    """Return n ordinary reader comments, distinct from each other."""
    rng = random.Random(seed)  # noqa: S311 (test data)
    return [f"{rng.choice(HAM)} (reader note {i})" for i in range(n)]


def site_decisions(n: int = 40) -> list[Any]:
    """Return n novel spam and n site ham as the moderators' decisions retraining learns from."""
    spam = [
        Example(Doc(t), True, f"comment:{i}", "decisions") for i, t in enumerate(novel_spam(n))
    ]
    ham = [
        Example(Doc(t), False, f"comment:{100 + i}", "decisions")
        for i, t in enumerate(site_ham(n))
    ]
    return spam + ham


def fit_base() -> Any:
    """Fit a tiny base classifier with training.fit (it stands for the shipped model)."""
    texts = HAM + SPAM
    labels = [0] * len(HAM) + [1] * len(SPAM)
    return fit([Doc(t) for t in texts], labels)


def store_version(app: Flask, clf: Any, *, active: bool, note: str = "base") -> int:
    """Store a classifier as a version (active or not) and return its id."""
    blob = dump_artifact(clf)
    digest = hashlib.sha256(blob).hexdigest()
    manifest = {"sha256": digest, "libraries": library_versions(), "note": note}
    with db.new_session(app, write=True) as s:
        if active:
            for row in s.scalars(select(ClassifierVersion).where(ClassifierVersion.active)):
                row.active = False
            s.flush()
        version = ClassifierVersion(
            created_by="test",
            artifact=blob,
            sha256=digest,
            manifest=manifest,
            metrics={},
            active=active,
            activated_at=utcnow() if active else None,
            note=note,
        )
        s.add(version)
        s.commit()
        return version.id


def add_labelled(
    app: Flask, site_id: int, texts: list[str], status: Status, moderator_email: str
) -> list[int]:
    """Store comments a moderator labelled (approved or spam), as the queue would."""
    ids = []
    with db.new_session(app, write=True) as s:
        user = s.scalar(select(User).where(User.email == moderator_email))
        for i, text in enumerate(texts):
            now = utcnow()
            comment = Comment(
                site_id=site_id,
                post_id="p",
                author_name=f"author {status} {i}",
                author_email=f"a{i}.{status}@example.org",
                content_raw=text,
                content_html=text,
                status=status,
                reasons=[],
                created_at=now,
                updated_at=now,
            )
            s.add(comment)
            s.flush()
            s.add(
                AuditEvent(
                    comment_id=comment.id,
                    actor=user.email,
                    user_id=user.id,
                    from_status=Status.PENDING,
                    to_status=status,
                )
            )
            ids.append(comment.id)
        s.commit()
    return ids
