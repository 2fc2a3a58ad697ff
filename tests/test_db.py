"""The database layer: the migrations build exactly the tables the code declares."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from moderation import db
from moderation.tables import Base


def test_the_migrations_build_the_tables_the_code_declares(app):
    # The suite's database was built by `db.upgrade` (SQLite, or PostgreSQL in CI): a column
    # added to tables.py without its migration shows up here as a difference.
    with app.extensions[db.ENGINE].connect() as conn, warnings.catch_warnings():
        # Expression indexes (the trigram search, the one-open-job rule) cannot be reflected
        # and compared; alembic says so with a warning and skips them.
        warnings.simplefilter("ignore")
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []
