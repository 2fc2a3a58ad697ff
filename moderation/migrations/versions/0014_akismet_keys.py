"""Akismet keys per site, failed key attempts per address, submissions of unchecked comments

Revision ID: 0014
Revises: 0003

sites.akismet_key_hash: the site's Akismet-style key (12 hex characters), hashed.
akismet_key_failures: failed key attempts per client address (the limit that keeps a
48-bit key from being guessed holds across worker processes).
akismet_reports: submit-spam / submit-ham about comments never checked here, kept as
labelled examples for retraining, never shown as comments.
"""

import sqlalchemy as sa
from alembic import op

import moderation.tables

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("akismet_key_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_sites_akismet_key_hash", ["akismet_key_hash"])
    op.create_table(
        "akismet_key_failures",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column(
            "window_start", moderation.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_akismet_key_failures")),
    )
    op.create_table(
        "akismet_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("spam", sa.Boolean(), nullable=False),
        sa.Column("post_id", sa.String(length=255), nullable=False),
        sa.Column("author_name", sa.String(length=245), nullable=False),
        sa.Column("author_email", sa.String(length=100), nullable=False),
        sa.Column("author_url", sa.String(length=200), nullable=True),
        sa.Column("author_ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", moderation.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_akismet_reports_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_akismet_reports")),
    )
    op.create_index(
        "ix_akismet_reports_site_created", "akismet_reports", ["site_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_akismet_reports_site_created", table_name="akismet_reports")
    op.drop_table("akismet_reports")
    op.drop_table("akismet_key_failures")
    with op.batch_alter_table("sites") as batch:
        batch.drop_constraint("uq_sites_akismet_key_hash", type_="unique")
        batch.drop_column("akismet_key_hash")
