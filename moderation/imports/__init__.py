"""A site's comment history, imported as decided comments: rows, WXR, storage."""

from moderation.imports.rows import ImportFormat
from moderation.imports.rows import ImportRow
from moderation.imports.rows import ImportStatus
from moderation.imports.rows import ImportTooSlow
from moderation.imports.rows import MalformedImport
from moderation.imports.rows import RowsInvalid
from moderation.imports.rows import read_rows
from moderation.imports.store import IMPORT_ACTOR_PREFIX
from moderation.imports.store import ImportResult
from moderation.imports.store import import_comments

__all__ = [
    "IMPORT_ACTOR_PREFIX",
    "ImportFormat",
    "ImportResult",
    "ImportRow",
    "ImportStatus",
    "ImportTooSlow",
    "MalformedImport",
    "RowsInvalid",
    "import_comments",
    "read_rows",
]
