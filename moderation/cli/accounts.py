"""`flask sites …` and `flask users …`: scriptable account management."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation import db
from moderation.accounts import AccountError
from moderation.accounts import create_site
from moderation.accounts import create_user
from moderation.accounts import find_user
from moderation.accounts import issue_token
from moderation.accounts import revoke_site
from moderation.accounts import set_disabled
from moderation.accounts import set_password
from moderation.akismet.keys import issue_akismet_key
from moderation.akismet.keys import revoke_akismet_key
from moderation.auth import forget_site_keys
from moderation.tables import Role
from moderation.tables import Site

sites_group = AppGroup("sites", help="Sites and their API keys.")
users_group = AppGroup("users", help="Moderator and admin accounts.")


def _write_session() -> Session:
    return db.new_session(current_app._get_current_object(), write=True)


@sites_group.command("create")
@click.argument("name")
def create_site_command(name: str) -> None:
    """Create a site; its key is printed alone on the last line (shown only now)."""
    with _write_session() as session:
        try:
            site, key = create_site(session, name)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(f"site {site.name} created; its key (shown once):")
        click.echo(key)


@sites_group.command("revoke")
@click.argument("name")
def revoke_site_command(name: str) -> None:
    """Revoke a site's key (running workers refuse it within SITE_KEY_TTL_SECONDS)."""
    with _write_session() as session:
        try:
            revoke_site(session, name)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(f"site {name} revoked")
    forget_site_keys()


@sites_group.command("akismet-key")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Remove the site's Akismet key instead.")
def akismet_key_command(name: str, revoke: bool) -> None:
    """Give a site a new Akismet key, printed alone on the last line (shown only now)."""
    with _write_session() as session:
        site = session.scalar(select(Site).where(Site.name == name))
        if site is None or site.revoked_at is not None:
            raise click.ClickException(f"there is no active site named {name!r}")
        if revoke:
            revoke_akismet_key(site)
            session.commit()
            forget_site_keys()
            click.echo(f"the Akismet key of {name} is revoked")
            return
        key = issue_akismet_key(session, site)
        session.commit()
        forget_site_keys()
        click.echo(f"site {name}: its Akismet key (shown once; it replaces any earlier one):")
        click.echo(key)


@users_group.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default=Role.MODERATOR.value,
    show_default=True,
)
@click.password_option("--password", help="Asked for when not given.")
def create_user_command(email: str, role: str, password: str) -> None:
    """Create a moderator or admin account."""
    with _write_session() as session:
        try:
            user = create_user(session, email, password, Role(role))
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(f"user {user.email} created ({user.role})")


@users_group.command("token")
@click.argument("email")
def token_command(email: str) -> None:
    """Issue a personal API token; printed alone on the last line (shown only now)."""
    with _write_session() as session:
        try:
            user = find_user(session, email)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        if user.disabled:
            raise click.ClickException(f"{user.email} is disabled")
        token = issue_token(session, user)
        session.commit()
        click.echo(f"API token for {user.email} (replaces any earlier one):")
        click.echo(token)


@users_group.command("password")
@click.argument("email")
@click.password_option("--password", help="Asked for when not given.")
def password_command(email: str, password: str) -> None:
    """Set a user's password (ends their browser sessions)."""
    with _write_session() as session:
        try:
            user = find_user(session, email)
            set_password(session, user, password)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(f"password of {user.email} changed")


@users_group.command("disable")
@click.argument("email")
def disable_command(email: str) -> None:
    """Disable an account: its sessions and token stop working."""
    with _write_session() as session:
        try:
            user = find_user(session, email)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        set_disabled(session, user, True)
        session.commit()
        click.echo(f"user {user.email} disabled")
