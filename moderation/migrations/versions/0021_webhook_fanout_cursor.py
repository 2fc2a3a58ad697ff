"""webhook events: SQLite fans out past a cursor; msg_id loses its unique index

Revision ID: 0021
Revises: 0020

Two costs of every change that writes an event, counted in SQLite's WAL (3.6 pages a
comment, of the intake's 31):
- The fan-out flag's partial index: SQLite gives ids in commit order (one writer at a
  time), so there the events still to fan out are simply those past the last one fanned
  out, kept in webhook_fanout_cursor. The events table becomes AUTOINCREMENT, so an id
  is never given again (a site's deletion can remove the newest events) and the cursor
  never passes one unseen. PostgreSQL hands ids out before commit, so a later id can
  commit first: it keeps the flag and its index, and the cursor table stays empty.
- msg_id's unique index: nothing looks an event up by it. A new id is the millisecond
  and 96 random bits (see outbox.new_msg_id); ids already given are kept.
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_UNIQUE = "uq_webhook_events_msg_id"
_TABLE_HEAD = re.compile(r'^CREATE TABLE\s+"?webhook_events"?\s*\(')
_ID_COLUMN = re.compile(r"\bid INTEGER NOT NULL,")
_PRIMARY_KEY = re.compile(r"\s*CONSTRAINT pk_webhook_events PRIMARY KEY \(id\),")
_UNIQUE_CLAUSE = re.compile(r",\s*CONSTRAINT uq_webhook_events_msg_id UNIQUE \(msg_id\)")


def upgrade() -> None:
    op.create_table(
        "webhook_fanout_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_fanout_cursor")),
    )
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(_UNIQUE, "webhook_events", type_="unique")
        return
    table_sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'webhook_events'"
    ).scalar_one()
    index_sql = list(
        bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master"
            " WHERE type = 'index' AND tbl_name = 'webhook_events' AND sql IS NOT NULL"
        ).scalars()
    )
    # Since 0018 the flagged events are the newest ones (each fan-out takes the oldest
    # first), so the cursor stops just before the first of them.
    first_waiting, last = bind.exec_driver_sql(
        "SELECT min(CASE WHEN fanout_pending THEN id END), max(id) FROM webhook_events"
    ).one()
    cursor = first_waiting - 1 if first_waiting is not None else last or 0
    if "AUTOINCREMENT" in table_sql:
        # Rebuilt already (upgraded, downgraded, upgraded again): the downgrade's index.
        op.drop_index(_UNIQUE, table_name="webhook_events")
    else:
        bind.exec_driver_sql(_rebuilt(table_sql))  # the same columns in the same order
        bind.exec_driver_sql("INSERT INTO _webhook_events_rebuilt SELECT * FROM webhook_events")
        bind.exec_driver_sql("DROP TABLE webhook_events")
        bind.exec_driver_sql("ALTER TABLE _webhook_events_rebuilt RENAME TO webhook_events")
        for sql in index_sql:
            bind.exec_driver_sql(sql)
    bind.exec_driver_sql("UPDATE webhook_events SET fanout_pending = 0 WHERE fanout_pending")
    bind.exec_driver_sql(
        "INSERT INTO webhook_fanout_cursor (id, event_id) VALUES (1, ?)", (cursor,)
    )


def _rebuilt(table_sql: str) -> str:
    """Return the CREATE TABLE of the copy: the same table, its id AUTOINCREMENT, no unique."""
    sql, heads = _TABLE_HEAD.subn("CREATE TABLE _webhook_events_rebuilt (", table_sql)
    sql, ids = _ID_COLUMN.subn(
        "id INTEGER NOT NULL CONSTRAINT pk_webhook_events PRIMARY KEY AUTOINCREMENT,",
        sql,
        count=1,
    )
    sql, keys = _PRIMARY_KEY.subn("", sql)
    sql, uniques = _UNIQUE_CLAUSE.subn("", sql)
    if (heads, ids, keys, uniques) != (1, 1, 1, 1):
        raise RuntimeError(f"webhook_events is not the table this migration knows:\n{table_sql}")
    return sql


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # 0020's fan-out finds the waiting events by their flag: set it on those past
        # the cursor. The ids stay never reused, as in 0020's comments.
        bind.exec_driver_sql(
            "UPDATE webhook_events SET fanout_pending = 1"
            " WHERE id > coalesce((SELECT event_id FROM webhook_fanout_cursor), 0)"
        )
        # A unique index does what 0020's constraint did, without rebuilding the table.
        op.create_index(_UNIQUE, "webhook_events", ["msg_id"], unique=True)
    else:
        op.create_unique_constraint(_UNIQUE, "webhook_events", ["msg_id"])
    op.drop_table("webhook_fanout_cursor")
