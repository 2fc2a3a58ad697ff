"""queue search: pg_trgm and a trigram index over author name, email and text

Revision ID: 0002
Revises: 0001

PostgreSQL only (SQLite scans, which is fine at its scale). CREATE INDEX here blocks
writes to comments while it builds (about 35 s per million comments); on a large live
database create it beforehand with CREATE INDEX CONCURRENTLY under the same name.
"""

from alembic import op

# Frozen copy of moderation.tables.SEARCH_TEXT_SQL as of this revision.
SEARCH_TEXT_SQL = "lower(author_name) || ' ' || lower(author_email) || ' ' || lower(content_raw)"

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_comments_search_trgm ON comments"
        f" USING gin (({SEARCH_TEXT_SQL}) gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_comments_search_trgm")
