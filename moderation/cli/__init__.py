"""Flask CLI commands: db, setup, sites, users, comments, model."""

from __future__ import annotations

from flask import Flask

from moderation.cli import accounts
from moderation.cli import comments
from moderation.cli import database
from moderation.cli import model


def init_app(app: Flask) -> None:
    """Register the command groups on the app."""
    app.cli.add_command(database.db_group)
    app.cli.add_command(database.setup_command)
    app.cli.add_command(accounts.sites_group)
    app.cli.add_command(accounts.users_group)
    app.cli.add_command(comments.comments_group)
    model.register(app)
