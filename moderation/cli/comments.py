"""`flask comments purge` and `flask comments erase`: the only ways comments are deleted."""

from __future__ import annotations

import re
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from moderation import db
from moderation.retention import erase_commenter
from moderation.retention import purge
from moderation.tables import utcnow

comments_group = AppGroup("comments", help="Retention: purge old spam, erase a commenter.")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class DurationType(click.ParamType):
    """A duration such as 30d, 12h or 90m."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        """Return the timedelta, or fail naming the accepted forms."""
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"\s*(\d{1,6})\s*([dhm])\s*", str(value))
        if match is None:
            self.fail(f"{value!r} is not a duration like 30d, 12h or 90m", param, ctx)
        return timedelta(**{UNITS[match[2]]: int(match[1])})


@comments_group.command("purge")
@click.option(
    "--spam-older-than",
    type=DurationType(),
    default="30d",
    show_default=True,
    help="Delete spam whose status has not changed for this long.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
def purge_command(spam_older_than: timedelta, dry_run: bool) -> None:
    """Delete old spam (with its audit trail) and flood marks past their window."""
    app = current_app._get_current_object()
    with db.new_session(app, write=True) as session:
        result = purge(
            session,
            now=utcnow(),
            spam_older_than=spam_older_than,
            flood_seconds=app.config["FLOOD_SECONDS"],
            dry_run=dry_run,
        )
        session.commit()
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"spam comments {verb}: {result.spam_deleted}")
    click.echo(f"spam comments kept (others replied to them): {result.spam_kept_with_replies}")
    click.echo(f"flood marks {verb}: {result.flood_marks_deleted}")


@comments_group.command("erase")
@click.argument("email")
@click.confirmation_option(prompt="Delete every comment of this address, on every site?")
def erase_command(email: str) -> None:
    """Delete every comment by EMAIL on every site (replies by others stay, top-level)."""
    with db.new_session(current_app._get_current_object(), write=True) as session:
        result = erase_commenter(session, email)
        session.commit()
    click.echo(f"comments deleted: {result.comments_deleted}")
    click.echo(f"replies by others now top-level: {result.replies_detached}")
    click.echo(f"flood marks deleted: {result.flood_marks_deleted}")
