"""WordPress's export file (WXR, Tools -> Export): its comments as import rows, with lines.

Parsed with defusedxml's SAX reader: no DTD, no entity expansion, no external resource,
so a hostile file cannot expand a billion laughs or read a local file. Two slips of
WordPress's exporter that make its file ill-formed XML are mended first (see _mend).
"""

from __future__ import annotations

import codecs
import io
import re
from typing import Any
from xml.sax import SAXException
from xml.sax.handler import ContentHandler
from xml.sax.handler import feature_namespaces
from xml.sax.xmlreader import Locator

from defusedxml import DefusedXmlException
from defusedxml.sax import make_parser

WP_NAMESPACE_PREFIX = "http://wordpress.org/export/"
# WordPress's comment_approved column: 1, 0, spam, trash, post-trashed.
WXR_STATUS = {
    "1": "approved",
    "approve": "approved",
    "0": "pending",
    "hold": "pending",
    "spam": "spam",
    "trash": "trash",
    "post-trashed": "trash",
}
# Comment types that are not a reader's comment (skipped: WordPress's own notifications).
SKIPPED_TYPES = frozenset({"pingback", "trackback", "note", "webhook"})
# A file saved again as UTF-16 (XML names its encoding; the other import formats are UTF-8).
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# XML 1.0 forbids these C0 controls, and export_wp() writes a comment's text as it is
# stored: one stored by wp_insert_comment() (importers, plugins) may hold them, while
# WordPress's own form removes them (wp_kses_no_null). In UTF-8 such a byte is never part
# of another character, and removing it keeps every line where it was.
FORBIDDEN_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# export_wp() writes comment_author_url without CDATA, through sanitize_url(), which keeps
# a bare "&" (a URL the comment form stored reads "&amp;"; wp_insert_comment's does not).
AUTHOR_URL = re.compile(rb"(<wp:comment_author_url>)([^<]*)(</wp:comment_author_url>)")
BARE_AMPERSAND = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")
# WordPress's is_email(): the addresses its comment form accepts.
EMAIL_LOCAL = re.compile(r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+")
EMAIL_LABEL = re.compile(r"[a-zA-Z0-9-]+")
COMMENT_FIELDS = {
    "comment_id": "id",
    "comment_author": "author_name",
    "comment_author_email": "author_email",
    "comment_author_url": "author_url",
    "comment_author_IP": "author_ip",
    "comment_agent": "user_agent",
    "comment_content": "content",
    "comment_parent": "parent_id",
    "comment_date_gmt": "created_at",
}


class WxrError(ValueError):
    """The file is not well-formed, or it is hostile (a DTD, entities)."""


class _Handler(ContentHandler):
    """Collect each <wp:comment> of each <item> as a row with its line."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, dict[str, Any]]] = []
        self._locator: Locator | None = None
        self._post_id: str | None = None
        self._comment: dict[str, Any] | None = None
        self._comment_line = 0
        self._text: list[str] | None = None
        self._root_seen = False

    def setDocumentLocator(self, locator: Locator) -> None:
        self._locator = locator

    def startElementNS(self, name: tuple[str | None, str], qname: Any, attrs: Any) -> None:
        uri, local = name
        if not self._root_seen:
            self._root_seen = True
            if uri or local != "rss":
                # Stop at once: the rest of a file that is no export is not read.
                raise WxrError(f"not a WordPress export: its root element is <{local}>, not <rss>")
        if not (uri or "").startswith(WP_NAMESPACE_PREFIX):
            return
        if local == "comment" and self._comment is None:
            self._comment = {}
            self._comment_line = self._locator.getLineNumber() if self._locator else 0
        elif local in ("post_id", "comment_approved", "comment_type") or (
            self._comment is not None and local in COMMENT_FIELDS
        ):
            self._text = []

    def characters(self, content: str) -> None:
        if self._text is not None:
            self._text.append(content)

    def endElementNS(self, name: tuple[str | None, str], qname: Any) -> None:
        uri, local = name
        if not (uri or "").startswith(WP_NAMESPACE_PREFIX):
            return
        if local == "comment" and self._comment is not None:
            self._finish_comment()
            return
        if self._text is None:
            return
        value = "".join(self._text)
        self._text = None
        if self._comment is None:
            if local == "post_id":
                self._post_id = value.strip()
        elif local == "comment_approved":
            self._comment["_approved"] = value.strip()
        elif local == "comment_type":
            self._comment["_type"] = value.strip()
        elif local in COMMENT_FIELDS:
            self._comment[COMMENT_FIELDS[local]] = value

    def _finish_comment(self) -> None:
        comment, self._comment = self._comment or {}, None
        if comment.pop("_type", "") in SKIPPED_TYPES:
            return
        approved = comment.pop("_approved", "")
        comment["status"] = WXR_STATUS.get(approved, approved)
        if comment.get("parent_id", "").strip() in ("", "0"):
            comment.pop("parent_id", None)
        created = comment.get("created_at", "").strip()
        if created and not created.startswith("0000"):
            # comment_date_gmt is "YYYY-MM-DD HH:MM:SS" in UTC.
            comment["created_at"] = created.replace(" ", "T") + "+00:00"
        else:
            comment.pop("created_at", None)
        comment["post_id"] = self._post_id
        self.rows.append((self._comment_line, comment))


def _mend(raw: bytes) -> bytes:
    """Mend what export_wp() writes ill-formed: C0 controls, a bare "&" in an author URL."""
    if raw.startswith(UTF16_BOMS):
        return raw  # UTF-16 (not WordPress's writing, a file saved again): bytes, not text
    raw = FORBIDDEN_CONTROLS.sub(b"", raw)
    return AUTHOR_URL.sub(lambda m: m[1] + BARE_AMPERSAND.sub(b"&amp;", m[2]) + m[3], raw)


def wordpress_accepts_email(address: str) -> bool:
    """Return whether WordPress's is_email() accepts the address (its comment form's check)."""
    local, at, domain = address.partition("@")
    if len(address) < 6 or not at or not local:
        return False
    if not EMAIL_LOCAL.fullmatch(local) or ".." in domain:
        return False
    if domain.strip(" \t\n\r\0\x0b.") != domain:
        return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(
        label.strip(" \t\n\r\0\x0b-") == label and EMAIL_LABEL.fullmatch(label) for label in labels
    )


def read_wxr(raw: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Return (line, row) for each reader comment of a WXR file (pingbacks skipped)."""
    raw = _mend(raw)
    parser = make_parser()
    parser.forbid_dtd = True
    parser.forbid_entities = True
    parser.forbid_external = True
    parser.setFeature(feature_namespaces, True)
    handler = _Handler()
    parser.setContentHandler(handler)
    try:
        parser.parse(io.BytesIO(raw))
    except DefusedXmlException as exc:
        raise WxrError(f"refused: {type(exc).__name__} (no DTD or entities allowed)") from None
    except SAXException as exc:
        raise WxrError(f"not well-formed XML: {exc}") from None
    return handler.rows
