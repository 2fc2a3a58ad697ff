"""comment_reasons: one row per reason code of a comment, for the queue's reason filter;
an index of each moderator's audit events, for undo

Revision ID: 0017
Revises: 0013

Each row copies its comment's status, created_at and score sort key
(coalesce(spam_score, -1.0)), so that "status + reason, in sort order" is one index range
and the counts per status read one index prefix (the JSON containment of 0016 read every
matching comment). The rows of existing comments are filled from their JSON reasons; the
GIN index of 0016 (PostgreSQL) is dropped, nothing reads it any more.

ix_audit_events_user serves undo (moderation.undo): a moderator's latest events.
"""

import sqlalchemy as sa
from alembic import op

from moderation.tables import UTCDateTime

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None

# Frozen copies, as of this revision, of moderation.reason_rows for existing comments.
BACKFILL_POSTGRESQL = """
INSERT INTO comment_reasons (comment_id, code, status, created_at, score)
SELECT DISTINCT c.id, r.value ->> 'code', c.status, c.created_at, coalesce(c.spam_score, -1.0)
FROM comments AS c
CROSS JOIN LATERAL json_array_elements(
    CASE WHEN json_typeof(c.reasons) = 'array' THEN c.reasons ELSE '[]'::json END
) AS r(value)
WHERE json_typeof(r.value) = 'object' AND json_typeof(r.value -> 'code') = 'string'
"""
BACKFILL_SQLITE = """
INSERT INTO comment_reasons (comment_id, code, status, created_at, score)
SELECT DISTINCT c.id, json_extract(r.value, '$.code'), c.status, c.created_at,
    coalesce(c.spam_score, -1.0)
FROM comments AS c, json_each(CASE WHEN json_type(c.reasons) = 'array'
    THEN c.reasons ELSE '[]' END) AS r
WHERE r.type = 'object' AND json_type(r.value, '$.code') = 'text'
"""


def upgrade() -> None:
    op.create_table(
        "comment_reasons",
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "spam",
                name="status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_comment_reasons_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("comment_id", "code", name=op.f("pk_comment_reasons")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(BACKFILL_POSTGRESQL if postgresql else BACKFILL_SQLITE)
    # Indexes after the rows: one sorted build instead of an insert per row.
    op.create_index(
        "ix_comment_reasons_status_created",
        "comment_reasons",
        ["code", "status", "created_at", "comment_id"],
    )
    op.create_index(
        "ix_comment_reasons_status_score",
        "comment_reasons",
        ["code", "status", "score", "comment_id"],
    )
    op.create_index(
        "ix_comment_reasons_created", "comment_reasons", ["code", "created_at", "comment_id"]
    )
    if postgresql:
        op.execute("DROP INDEX IF EXISTS ix_comments_reasons_gin")
    op.create_index("ix_audit_events_user", "audit_events", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_user", table_name="audit_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_comments_reasons_gin ON comments"
            " USING gin ((reasons::jsonb) jsonb_path_ops)"
        )
    op.drop_index("ix_comment_reasons_created", table_name="comment_reasons")
    op.drop_index("ix_comment_reasons_status_score", table_name="comment_reasons")
    op.drop_index("ix_comment_reasons_status_created", table_name="comment_reasons")
    op.drop_table("comment_reasons")
