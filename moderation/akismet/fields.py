"""Akismet's comment fields into the intake's comment, leniently, and its test triggers.

Akismet requires only api_key, blog and user_ip and ignores what it cannot use; our API
is stricter. So every field is made acceptable or dropped here, before the intake sees
it: characters our validators refuse are removed, text is cut to our limits (before the
intake sanitizes: nothing is changed after sanitizing), a website without a scheme gets
http://, an unusable URL, address or e-mail is dropped. A comment with no name or no
usable e-mail (a contact form, a pingback) gets a stand-in that matches no one else, so
it never counts as a known author nor floods another commenter. What is stored is
therefore always valid for our own API.
"""

from __future__ import annotations

import enum
import ipaddress
import secrets
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from email_validator import EmailNotValidError
from email_validator import validate_email

from moderation.schemas import ALLOWED_FORMAT_CHARS
from moderation.schemas import CONTENT_CONTROLS
from moderation.schemas import CONTENT_MAX
from moderation.schemas import EMAIL_MAX
from moderation.schemas import NAME_MAX
from moderation.schemas import URL_MAX
from moderation.schemas import CommentIn

POST_ID_MAX = 255
USER_AGENT_MAX = 500
PAGE_URL_MAX = 2000
ANONYMOUS_NAME = "Anonymous"
# A reserved documentation domain (RFC 2606) our e-mail validator accepts; the random
# local part makes each stand-in unique.
STAND_IN_DOMAIN = "no-email.example.com"
EMPTY_CONTENT = "(empty)"

SPAM_AUTHOR = "viagra-test-123"
SPAM_EMAIL = "akismet-guaranteed-spam@example.com"
HAM_ROLE = "administrator"


def _refused(char: str, *, multiline: bool) -> bool:
    category = unicodedata.category(char)
    if category == "Cs" or char == "\x00":
        return True
    if category == "Cc":
        return not (multiline and char in CONTENT_CONTROLS)
    invisible = category in ("Cf", "Co", "Cn", "Zl", "Zp")
    return not multiline and invisible and char not in ALLOWED_FORMAT_CHARS


def clean(value: str | None, limit: int, *, multiline: bool = False) -> str:
    """Drop the characters our API refuses, trim, and cut to `limit` characters."""
    if not value:
        return ""
    text = "".join(c for c in value if not _refused(c, multiline=multiline)).strip()
    return text[:limit].strip()


def http_url(value: str | None, limit: int, *, add_scheme: bool = False) -> str | None:
    """Return an http(s) URL with a host within `limit` characters, else None."""
    text = clean(value, 10 * limit)
    if not text or len(text) > limit:
        return None
    if add_scheme and "://" not in text and " " not in text and "." in text:
        text = "http://" + text.lstrip("/")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or len(text) > limit:
        return None
    return text


def ip_address(value: str | None) -> str | None:
    """Return the address (the first of a forwarded list), normalised, else None."""
    text = clean(value, 200)
    for candidate in (text, text.split(",", 1)[0].strip()):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def email(value: str | None) -> str | None:
    """Return the e-mail address if our validator takes it, else None."""
    text = clean(value, EMAIL_MAX + 1)
    if not text or len(text) > EMAIL_MAX:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def stand_in_email() -> str:
    """Return an address for a comment without one, unique so it matches no one else."""
    return f"anonymous-{secrets.token_hex(6)}@{STAND_IN_DOMAIN}"


def post_id(fields: dict[str, str]) -> str:
    """Return the post: comment_post_ID, else permalink, else blog (always non-empty)."""
    for name in ("comment_post_ID", "permalink", "blog"):
        text = clean(fields.get(name), POST_ID_MAX)
        if text:
            return text
    return "(unknown)"


def comment_in(fields: dict[str, str]) -> CommentIn:
    """Return the intake's comment from Akismet's fields (valid whatever they hold)."""
    content = clean(fields.get("comment_content"), CONTENT_MAX, multiline=True)
    data = {
        "post_id": post_id(fields),
        "author_name": clean(fields.get("comment_author"), NAME_MAX) or ANONYMOUS_NAME,
        "author_email": email(fields.get("comment_author_email")) or stand_in_email(),
        "content": content or EMPTY_CONTENT,
        "author_url": http_url(fields.get("comment_author_url"), URL_MAX, add_scheme=True),
        "author_ip": ip_address(fields.get("user_ip")),
        "user_agent": clean(fields.get("user_agent"), USER_AGENT_MAX) or None,
        "referrer": http_url(fields.get("referrer"), PAGE_URL_MAX),
        "permalink": http_url(fields.get("permalink"), PAGE_URL_MAX),
    }
    return CommentIn.model_validate(data)


def has_email(fields: dict[str, str]) -> bool:
    """Say whether the comment came with a usable e-mail address of its own."""
    return email(fields.get("comment_author_email")) is not None


class Trigger(enum.StrEnum):
    """Akismet's documented test values and the answer they force."""

    SPAM = "spam"
    HAM = "ham"


@dataclass(frozen=True)
class TestCall:
    """What a call with one of Akismet's test triggers must answer."""

    trigger: Trigger
    discard: bool


def test_trigger(fields: dict[str, str]) -> TestCall | None:
    """Return the forced answer of Akismet's test values, or None for an ordinary call.

    comment_author viagra-test-123 or comment_author_email
    akismet-guaranteed-spam@example.com: spam (with test_discard set, also the discard
    pro-tip); user_role administrator: not spam.
    """
    author = fields.get("comment_author", "").strip().lower()
    address = fields.get("comment_author_email", "").strip().lower()
    if author == SPAM_AUTHOR or address == SPAM_EMAIL:
        discard = fields.get("test_discard", "").strip().lower() in ("1", "true", "yes")
        return TestCall(Trigger.SPAM, discard)
    roles = {role.strip().lower() for role in fields.get("user_role", "").split(",")}
    if HAM_ROLE in roles:
        return TestCall(Trigger.HAM, False)
    return None
