"""Flask CLI commands: db, setup, sites, users, comments (and model, from the classifier)."""

from __future__ import annotations

from flask import Flask

from moderation import cli_model
from moderation.cli import accounts
from moderation.cli import comments
from moderation.cli import database


def init_app(app: Flask) -> None:
    """Register the command groups on the app."""
    app.cli.add_command(database.db_group)
    app.cli.add_command(database.setup_command)
    app.cli.add_command(accounts.sites_group)
    app.cli.add_command(accounts.users_group)
    app.cli.add_command(comments.comments_group)
    cli_model.register(app)
