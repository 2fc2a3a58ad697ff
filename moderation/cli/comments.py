"""`flask comments purge` and `flask comments erase`: the only ways comments are deleted."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from moderation import db
from moderation.imports import ImportFormat
from moderation.imports import MalformedImport
from moderation.imports import RowsInvalid
from moderation.imports import import_comments
from moderation.imports import read_rows
from moderation.imports.rows import SUFFIXES
from moderation.retention import erase_commenter
from moderation.retention import purge
from moderation.tables import Site
from moderation.tables import utcnow

comments_group = AppGroup(
    "comments", help="Retention: purge old spam, erase a commenter; import a site's history."
)
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


@comments_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--site", "site_name", required=True, help="The site the comments belong to.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([str(f) for f in ImportFormat]),
    help="csv, jsonl, json or wxr (WordPress's export); by the file's suffix if not given.",
)
def import_command(file: Path, site_name: str, fmt: str | None) -> None:
    """Import a site's past comments with their final status (again: adds nothing)."""
    chosen = ImportFormat(fmt) if fmt else SUFFIXES.get(file.suffix.lower())
    if chosen is None:
        raise click.UsageError(f"cannot tell the format of {file.name}: give --format")
    try:
        rows = read_rows(file.read_bytes(), chosen)
    except MalformedImport as exc:
        raise click.ClickException(str(exc)) from None
    except RowsInvalid as exc:
        for where, messages in exc.errors.items():
            click.echo(f"{file.name}: {where}: {'; '.join(messages)}", err=True)
        raise click.ClickException(
            f"{len(exc.errors)} invalid field(s); nothing imported"
        ) from None
    with db.new_session(current_app._get_current_object(), write=True) as session:
        site_id = session.scalar(select(Site.id).where(Site.name == site_name))
        if site_id is None:
            raise click.ClickException(f"there is no site named {site_name!r}")
        result = import_comments(session, site_id, rows, actor="cli:" + site_name, now=utcnow())
        session.commit()
    click.echo(f"imported: {result.imported}")
    click.echo(f"already present: {result.already_present}")
