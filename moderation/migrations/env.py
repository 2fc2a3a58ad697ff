"""Alembic environment: migrate the engine the app hands over, or the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from moderation.tables import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite rebuilds a table to change it (batch mode, 0020): with foreign keys on,
        # dropping the old copy would cascade to the rows that point at it. The pragma
        # only works outside a transaction, so it is set before the migrations begin.
        connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"the migrations broke foreign keys: {broken[:10]}")
        connection.commit()
    finally:
        if sqlite:  # the connection goes back to the app's pool
            connection.rollback()
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
