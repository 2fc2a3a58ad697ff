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


# Plain ALTER TABLE on both databases (SQLite has ADD and DROP COLUMN): batch mode would
# copy comments through reflection, which cannot see its expression indexes (0016).


def upgrade() -> None:
    op.add_column("comments", sa.Column("spam_score_without_signals", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("comments", "spam_score_without_signals")
