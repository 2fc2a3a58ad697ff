"""Signed one-click links: who, which comment, which action; 7 days; each used once."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import URLSafeTimedSerializer

from moderation.queue import Action

SALT = "moderation.mail-link"


class LinkRefusal(enum.StrEnum):
    """Why a link does not act."""

    TAMPERED = "tampered"
    EXPIRED = "expired"
    USED = "used"
    OTHER_USER = "other_user"


@dataclass(frozen=True)
class ActionLink:
    """What a valid link asks: this moderator takes this action on this comment."""

    token_id: str
    user_id: int
    comment_id: int
    action: Action


class LinkRefused(Exception):
    """A link that may not act, and why."""

    def __init__(self, reason: LinkRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def make_token(secret_key: str, user_id: int, comment_id: int, action: Action) -> str:
    """Return the signed token of a one-click link (a fresh id each, to be used once)."""
    payload = {"j": secrets.token_hex(16), "u": user_id, "c": comment_id, "a": str(action)}
    return str(_serializer(secret_key).dumps(payload))


def read_token(secret_key: str, token: str, max_age: float) -> ActionLink:
    """Return what a token asks, or raise LinkRefused (tampered or expired)."""
    try:
        payload: Any = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkRefused(LinkRefusal.EXPIRED) from None
    except BadSignature:
        raise LinkRefused(LinkRefusal.TAMPERED) from None
    try:
        return ActionLink(
            str(payload["j"]), int(payload["u"]), int(payload["c"]), Action(payload["a"])
        )
    except (KeyError, TypeError, ValueError):
        raise LinkRefused(LinkRefusal.TAMPERED) from None
