"""webhook fan-out: an event row names its endpoints; the worker makes the deliveries

Revision ID: 0018
Revises: 0017

The change's transaction now writes only the event (with the endpoints that wanted it
and fanout_pending set); the delivery worker turns it into one delivery per endpoint.
Events written before this revision already have their deliveries.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.add_column(sa.Column("endpoint_ids", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column(
                "fanout_pending", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.create_index(
        "ix_webhook_events_fanout",
        "webhook_events",
        ["id"],
        postgresql_where=sa.text("fanout_pending"),
        sqlite_where=sa.text("fanout_pending"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_fanout", table_name="webhook_events")
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("fanout_pending")
        batch.drop_column("endpoint_ids")
