"""login_throttles (failed sign-ins per client, client and login, login)

Revision ID: 0015
Revises: 0011

The failed-login counters on users (failed_logins, locked_until) are no longer read: a lock
per account let anyone lock the owner out and told which accounts exist.
"""

import sqlalchemy as sa
from alembic import op

import moderation.tables

revision = "0015"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column(
            "first_failure_at", moderation.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("blocked_until", moderation.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
