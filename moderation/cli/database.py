"""`flask db upgrade` and `flask setup` (what `make run` calls on a fresh machine)."""

from __future__ import annotations

import os
import secrets

import click
from flask import Flask
from flask import current_app
from flask.cli import AppGroup
from flask.cli import with_appcontext
from sqlalchemy import func
from sqlalchemy import select

from moderation import db
from moderation.accounts import create_site
from moderation.accounts import create_user
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import User

db_group = AppGroup("db", help="Database schema.")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade_command(revision: str) -> None:
    """Apply the schema migrations; a fresh database gets the shipped classifier."""
    app = current_app._get_current_object()
    db.upgrade(app, revision)
    click.echo(f"database at {revision}")
    if revision == "head":
        import_default_classifier(app)


def import_default_classifier(app: Flask) -> None:
    """Import models/default.skops as version 1 when the database has no classifier."""
    from moderation.classifier import ArtifactRefused
    from moderation.training import import_default_artifact

    with db.new_session(app, write=True) as session:
        try:
            row = import_default_artifact(session, app.config["DEFAULT_ARTIFACT"])
        except (ArtifactRefused, OSError) as exc:
            click.echo(f"warning: the shipped classifier was not imported: {exc}", err=True)
            return
        session.commit()
    if row is not None:
        click.echo(f"classifier version {row.id} imported from the shipped artifact")


@click.command("setup")
@click.option("--demo-site", default="demo", show_default=True)
@click.option("--admin-email", default="admin@example.org", show_default=True)
@with_appcontext
def setup_command(demo_site: str, admin_email: str) -> None:
    """Migrate, then create once a demo site key and an admin login, and print them."""
    app = current_app._get_current_object()
    os.makedirs(app.instance_path, exist_ok=True)
    db.upgrade(app)
    import_default_classifier(app)
    with db.new_session(app, write=True) as session:
        has_site = session.scalar(select(func.count()).select_from(Site))
        has_user = session.scalar(select(func.count()).select_from(User))
        if has_site:
            click.echo("sites exist already: keys are shown once, at creation")
        else:
            _, key = create_site(session, demo_site)
            click.echo(f"demo site: {demo_site}")
            click.echo(f"site key:  {key}")
        if has_user:
            click.echo("users exist already")
        else:
            password = secrets.token_urlsafe(12)
            create_user(session, admin_email, password, Role.ADMIN)
            click.echo(f"admin login: {admin_email} / {password}")
        session.commit()


def write_secret_key(instance_path: str) -> None:
    """Write a random secret key to the instance folder once (used by `make run`)."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        os.makedirs(instance_path, exist_ok=True)
        with open(path, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
        os.chmod(path, 0o600)
