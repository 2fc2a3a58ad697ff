"""queue triage: indexes for the score sort and the IP and reason filters

Revision ID: 0016
Revises: 0011

ix_comments_status_score serves sort=score (highest spam score first, unscored last);
ix_comments_author_ip_status the ip filter and its counts; on PostgreSQL,
ix_comments_reasons_gin the reason filter (jsonb containment). CREATE INDEX blocks writes
to comments while it builds; on a large live database create them beforehand with
CREATE INDEX CONCURRENTLY under the same names.
"""

from alembic import op

revision = "0016"
down_revision = "0011"
branch_labels = None
depends_on = None

# Frozen copy of moderation.listing's score key as of this revision.
SCORE_KEY_SQL = "coalesce(spam_score, -1.0)"


def upgrade() -> None:
    op.create_index("ix_comments_author_ip_status", "comments", ["author_ip", "status"])
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_comments_status_score ON comments"
        f" (status, ({SCORE_KEY_SQL}), id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_comments_reasons_gin ON comments"
            " USING gin ((reasons::jsonb) jsonb_path_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_comments_reasons_gin")
    op.execute("DROP INDEX IF EXISTS ix_comments_status_score")
    op.drop_index("ix_comments_author_ip_status", table_name="comments")
