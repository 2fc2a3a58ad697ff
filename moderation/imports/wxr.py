"""WordPress's export file (WXR, Tools -> Export): its comments as import rows, with lines.

Parsed with defusedxml's SAX reader: no DTD, no entity expansion, no external resource,
so a hostile file cannot expand a billion laughs or read a local file.
"""

from __future__ import annotations

import io
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


def read_wxr(raw: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Return (line, row) for each reader comment of a WXR file (pingbacks skipped)."""
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
