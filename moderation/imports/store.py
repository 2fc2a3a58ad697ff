"""Storing a site's imported history: decided comments with an "imported" audit event.

The statuses come from the site's own moderators, so approved and spam rows are labels
for retraining (retraining.labels.moderator_labels counts the import's events). A row
already imported (same site and site comment id) is left alone: importing twice adds
nothing. The caller commits once, so the valid rows go in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.decisions import Reason
from moderation.decisions import ReasonCode
from moderation.imports.rows import ImportRow
from moderation.imports.rows import LocatedRow
from moderation.imports.rows import check_deadline
from moderation.intake import dedupe_key_of
from moderation.sanitize import clean_comment_html
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Status

IMPORT_ACTOR_PREFIX = "import:"  # audit actor of an imported status: "import:<who>"
IMPORTED_NOTE = "imported"
CHUNK = 500


@dataclass
class ImportResult:
    """What an import did: rows stored, rows already there, site id -> service id."""

    imported: int = 0
    already_present: int = 0
    ids: dict[str, int] = field(default_factory=dict)


def _known(session: Session, site_id: int, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Return {site comment id: (service id, post id)} of the ids imported before."""
    found: dict[str, tuple[int, str]] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), CHUNK):
        stmt = select(Comment.external_id, Comment.id, Comment.post_id).where(
            Comment.site_id == site_id, Comment.external_id.in_(unique[start : start + CHUNK])
        )
        found.update({str(ext): (cid, post) for ext, cid, post in session.execute(stmt)})
    return found


def _taken_keys(session: Session, keys: Sequence[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        stmt = select(Comment.dedupe_key).where(
            Comment.dedupe_key.in_(keys[start : start + CHUNK])
        )
        taken.update(key for key in session.scalars(stmt) if key)
    return taken


def _generations(rows: Sequence[ImportRow]) -> list[list[ImportRow]]:
    """Order the rows so that a parent in the same import is stored before its replies."""
    by_id = {row.id: row for row in rows}
    depth: dict[str, int] = {}
    for row in rows:
        chain, current = [], row
        while current.id not in depth and current.id not in chain:
            chain.append(current.id)
            parent = by_id.get(current.parent_id or "")
            if parent is None:
                break
            current = parent
        base = depth.get(current.id, -1) if current.id not in chain else -1
        for offset, ext in enumerate(reversed(chain), 1):
            depth[ext] = base + offset
    levels: list[list[ImportRow]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for row in rows:
        levels[depth[row.id]].append(row)
    return levels


def import_comments(
    session: Session,
    site_id: int,
    rows: Sequence[LocatedRow],
    *,
    actor: str,
    now: datetime,
    deadline: float | None = None,
) -> ImportResult:
    """Store the rows not imported before as decided comments (never commits).

    A reply whose parent is neither in the rows nor imported before, or is on another
    post, is stored as a top-level comment: exports often leave the parent out.

    :raises ImportTooSlow: storing ran past `deadline` (a time.monotonic() value); the
        caller rolls back.
    """
    result = ImportResult()
    known = _known(session, site_id, [r.row.id for r in rows])
    result.ids.update({ext: cid for ext, (cid, _) in known.items()})
    new = [r.row for r in rows if r.row.id not in known]
    result.already_present = len(rows) - len(new)
    in_file = {row.id for row in new}
    known.update(
        _known(
            session,
            site_id,
            [r.parent_id for r in new if r.parent_id and r.parent_id not in in_file],
        )
    )
    for level in _generations(new):
        parent_ids = {}
        for row in level:
            parent = known.get(row.parent_id or "")
            parent_ids[row.id] = parent[0] if parent and parent[1] == row.post_id else None
        keys = {row.id: _key(site_id, row, parent_ids[row.id]) for row in level}
        taken = _taken_keys(session, list(keys.values()))
        stored = []
        for count, row in enumerate(level, 1):
            check_deadline(deadline)
            if count % CHUNK == 0:
                session.flush()  # in parts, so the deadline is checked between them
            status = row.status.status
            key: str | None = keys[row.id]
            if status is Status.REJECTED or key in taken:
                # One live comment per key (the intake's duplicate check); a twin in the
                # history is stored without one rather than failing the import.
                key = None
            else:
                taken.add(key)
            comment = Comment(
                site_id=site_id,
                external_id=row.id,
                post_id=row.post_id,
                parent_id=parent_ids[row.id],
                author_name=row.author_name or "",
                author_email=row.author_email or "",
                author_url=row.author_url,
                author_ip=row.author_ip,
                user_agent=row.user_agent,
                content_raw=row.content,
                content_html=clean_comment_html(row.content).html,
                status=status,
                reasons=[Reason(ReasonCode.IMPORTED, f"{row.status} on the site").as_dict()],
                dedupe_key=key,
                created_at=row.created_at or now,
                updated_at=now,
            )
            session.add(comment)
            stored.append((row, comment))
        session.flush()
        for row, comment in stored:
            known[row.id] = (comment.id, row.post_id)
            result.ids[row.id] = comment.id
            session.add(
                AuditEvent(
                    comment_id=comment.id,
                    actor=IMPORT_ACTOR_PREFIX + actor,
                    user_id=None,
                    at=now,
                    from_status=None,
                    to_status=comment.status,
                    note=IMPORTED_NOTE,
                )
            )
    session.flush()
    result.imported = len(new)
    return result


def _key(site_id: int, row: ImportRow, parent_id: int | None) -> str:
    return dedupe_key_of(
        site_id, row.post_id, parent_id, row.author_name or "", row.author_email or "", row.content
    )
