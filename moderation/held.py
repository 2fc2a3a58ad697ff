"""A mark on a session that it stored a comment for moderators, read after its commit.

The intake marks the session; features that act on waiting comments (moderator mail)
read the mark when the transaction commits. Neither side imports the other.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

_HELD = "moderation.held_comment"


def note_held(session: Session) -> None:
    """Mark `session`: it stored a comment that waits for a moderator."""
    session.info[_HELD] = True


def take_held(session: Session) -> bool:
    """Return whether `session` stored a waiting comment, and clear the mark."""
    return bool(session.info.pop(_HELD, False))
