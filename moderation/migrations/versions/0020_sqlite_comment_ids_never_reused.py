"""SQLite: comment ids are never given twice (AUTOINCREMENT), as PostgreSQL's sequence never does

Revision ID: 0020
Revises: 0019

Without AUTOINCREMENT, SQLite gives a new row the largest id + 1, so erasing or purging
the newest comment made its id come back for the next one, and a webhook receiver or
WordPress keyed by comment id could take a late event about the old comment for the new
one. SQLite adds AUTOINCREMENT only by rebuilding the table (its documented procedure:
foreign keys off, which env.py does for every SQLite migration, then copy, drop, rename).
The table's own SQL is reused, so every column, constraint and index (the expression
index of 0016 too, which reflection and batch mode cannot see) comes back as it was.
PostgreSQL: nothing to do.
"""

import re

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_TABLE_HEAD = re.compile(r'^CREATE TABLE\s+"?comments"?\s*\(')
_ID_COLUMN = re.compile(r"\bid INTEGER NOT NULL,")
_PRIMARY_KEY = re.compile(r"\s*CONSTRAINT pk_comments PRIMARY KEY \(id\),")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    table_sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'comments'"
    ).scalar_one()
    if "AUTOINCREMENT" in table_sql:
        return  # rebuilt already (upgraded, downgraded, upgraded again)
    index_sql = list(
        bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master"
            " WHERE type = 'index' AND tbl_name = 'comments' AND sql IS NOT NULL"
        ).scalars()
    )
    bind.exec_driver_sql(_rebuilt(table_sql))
    bind.exec_driver_sql("INSERT INTO _comments_rebuilt SELECT * FROM comments")
    bind.exec_driver_sql("DROP TABLE comments")
    bind.exec_driver_sql("ALTER TABLE _comments_rebuilt RENAME TO comments")
    for sql in index_sql:
        bind.exec_driver_sql(sql)


def _rebuilt(table_sql: str) -> str:
    """Return the CREATE TABLE of the copy: the same table, its id AUTOINCREMENT."""
    sql, heads = _TABLE_HEAD.subn("CREATE TABLE _comments_rebuilt (", table_sql)
    sql, ids = _ID_COLUMN.subn(
        "id INTEGER NOT NULL CONSTRAINT pk_comments PRIMARY KEY AUTOINCREMENT,", sql, count=1
    )
    sql, keys = _PRIMARY_KEY.subn("", sql)
    if (heads, ids, keys) != (1, 1, 1):
        raise RuntimeError(f"comments is not the table this migration knows:\n{table_sql}")
    return sql


def downgrade() -> None:
    # The ids stay never reused: going back to reusing them would help no one, and the
    # schema of 0019 is otherwise the same.
    pass
