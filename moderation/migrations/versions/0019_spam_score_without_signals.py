"""comments.spam_score_without_signals: the score with its length, capitals, digits at their mean

Revision ID: 0019
Revises: 0018

Nullable, no default: comments scored before it have none, and the rule leaves them alone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("spam_score_without_signals", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("spam_score_without_signals")
