"""comments.external_id: the site's own id of an imported comment, unique per site

Revision ID: 0011
Revises: 0003

Nullable: comments posted through the intake have none (NULLs never collide).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
        batch.create_index("uq_comments_site_external", ["site_id", "external_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.drop_index("uq_comments_site_external")
        batch.drop_column("external_id")
