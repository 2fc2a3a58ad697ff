"""comment_revisions: the text a comment had before a site edited it (issue 13)

Revision ID: 0013
Revises: 0015

One row an edit, holding the replaced text; deleted with its comment (erasure, purge).
"""

import sqlalchemy as sa
from alembic import op

from moderation.tables import UTCDateTime

revision = "0013"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comment_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("content_raw", sa.Text(), nullable=False),
        sa.Column("content_html", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_comment_revisions_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_revisions")),
    )
    op.create_index("ix_comment_revisions_comment", "comment_revisions", ["comment_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_comment_revisions_comment", table_name="comment_revisions")
    op.drop_table("comment_revisions")
