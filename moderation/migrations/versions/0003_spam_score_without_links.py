"""comments.spam_score_without_links: the score of a comment's own words, for the links-alone rule

Revision ID: 0003
Revises: 0002

Nullable, no default: comments scored before it have none, and the rule leaves them alone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("spam_score_without_links", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("spam_score_without_links")
