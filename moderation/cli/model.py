"""`flask model …`: train, evaluate, list, promote, roll back and re-score classifier versions."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from moderation import db
from moderation.classifier import ArtifactRefused
from moderation.classifier import get_holder
from moderation.classifier import load_version
from moderation.settings import load_settings
from moderation.tables import ClassifierVersion
from moderation.training.corpora import CorpusFormat

model_group = AppGroup("model", help="Spam classifier versions.")
FORMATS = click.Choice([str(f) for f in CorpusFormat])


def register(app: Flask) -> None:
    """Add the `model` command group to the app's CLI."""
    app.cli.add_command(model_group)


def actor() -> str:
    """Return who runs the command, as stored in created_by and the promotion history."""
    return "cli:" + (os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown")


def _command_line(files: tuple[Path, ...], **options: Any) -> str:
    words = ["flask", "model", "train", *(str(f) for f in files)]
    for name, value in options.items():
        if value is True:
            words.append(f"--{name}")
        elif value not in (None, False):
            words += [f"--{name}", str(value)]
    return shlex.join(words)


@model_group.command("train")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, help="Format of every FILE (sniffed if not given).")
@click.option("--include-decisions", is_flag=True, help="Also learn from moderators' decisions.")
@click.option("--promote", is_flag=True, help="Make the new version active.")
@click.option("--force", is_flag=True, help="With --promote: even if it is worse.")
@click.option(
    "--export",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the artifact, manifest and card to this folder (e.g. models/).",
)
@click.option(
    "--leave-one-out",
    is_flag=True,
    help="Also score each comment file with a fit on the others (leave one video out).",
)
@click.option("--note", help="A note stored with the version.")
def train_command(
    files: tuple[Path, ...],
    fmt: str | None,
    include_decisions: bool,
    promote: bool,
    force: bool,
    export: Path | None,
    leave_one_out: bool,
    note: str | None,
) -> None:
    """Train a new, evaluated version from FILEs (and decisions); inactive unless --promote."""
    from moderation import training

    if not files and not include_decisions:
        raise click.UsageError("give corpus FILEs, --include-decisions, or both")
    app = current_app._get_current_object()
    try:
        corpora = [training.read_corpus(path, fmt) for path in files]
    except training.CorpusError as exc:
        raise click.ClickException(str(exc)) from None
    with db.new_session(app) as session:
        settings = load_settings(session)
        if include_decisions:
            corpora.append(training.decision_corpus(session))
    corpus = training.Corpus.join(corpora)
    for source in corpus.sources:
        click.echo(f"{source['name']}: {source['n']} texts, {source['spam']} spam")
    labels = set(corpus.labels)
    if labels != {0, 1}:
        raise click.ClickException("training needs both spam and ham examples")
    command = _command_line(
        files,
        format=fmt,
        **{"include-decisions": include_decisions, "leave-one-out": leave_one_out},
        export=export,
    )
    who = actor()
    trained = training.train(corpus, settings, command=command, created_by=who)
    if leave_one_out:
        held_out = training.leave_one_file_out(corpus, settings)
        trained.metrics["leave_one_file_out"] = held_out
        for name, m in [*held_out.get("files", {}).items(), ("all", held_out.get("all"))]:
            if m:
                click.echo(
                    f"left out {name}: accuracy {m['accuracy']:.4f}, MCC {m['mcc']:.4f},"
                    f" fpr_spam {m['fpr_spam']:.4f}"
                )
    with db.new_session(app, write=True) as session:
        row = training.store_version(session, trained, who, note=note)
        version_id = row.id
        session.commit()
    cv = trained.metrics["validation"]
    click.echo(
        f"version {version_id} stored (inactive), fitted in"
        f" {trained.manifest['fit_seconds']} s; cross-validated on {cv['n']} comments:"
        f" accuracy {cv['accuracy']:.4f}, MCC {cv['mcc']:.4f},"
        f" fpr_spam {cv['fpr_spam']:.4f}, fpr_hold {cv['fpr_hold']:.4f}"
    )
    if export is not None:
        for path in training.export_artifact(export, trained):
            click.echo(f"wrote {path}")
    if promote:
        _promote(app, version_id, force)


def _promote(app: Flask, version_id: int, force: bool) -> None:
    from moderation.problems import Problem
    from moderation.retraining import promote

    with db.new_session(app, write=True) as session:
        try:
            result = promote(session, version_id, force=force, actor=actor(), config=app.config)
        except Problem as exc:
            hint = " (--force)" if exc.type == "/problems/candidate-worse" else ""
            raise click.ClickException(f"{exc.detail or exc.title}{hint}") from None
        session.commit()
    previous = result.previous_id or "none"
    forced = " (forced)" if result.forced else ""
    click.echo(f"version {result.version.id} is active{forced}; was {previous}")


@model_group.command("promote")
@click.argument("version", type=int)
@click.option("--force", is_flag=True, help="Promote even if it is worse than the active one.")
def promote_command(version: int, force: bool) -> None:
    """Make VERSION active (refused if it does not load, or is worse unless --force)."""
    _promote(current_app._get_current_object(), version, force)


@model_group.command("rollback")
def rollback_command() -> None:
    """Reactivate the version that served before the active one."""
    from moderation.problems import Problem
    from moderation.retraining import rollback

    with db.new_session(current_app, write=True) as session:
        try:
            result = rollback(session, actor=actor())
        except Problem as exc:
            raise click.ClickException(exc.detail or exc.title) from None
        session.commit()
    click.echo(f"version {result.version.id} is active again; was {result.previous_id}")


@model_group.command("list")
def list_command() -> None:
    """List the versions, newest first, with their cross-validated scores."""
    from moderation.retraining import list_versions

    with db.new_session(current_app) as session:
        versions = list_versions(session)
    if not versions:
        click.echo("no classifier versions")
        return
    click.echo(
        f"{'':1} {'id':>4}  {'created':16}  {'by':22} {'texts':>6} {'acc':>6} {'mcc':>6}"
        f" {'fpr_spam':>8}  note"
    )
    for v in versions:
        metrics = v.metrics or {}
        block = next(
            (metrics[k] for k in ("holdout", "validation") if isinstance(metrics.get(k), dict)),
            {},
        )
        n = (v.manifest or {}).get("training_data", {}).get("n", "")

        def num(key: str, block: dict[str, Any] = block) -> str:
            value = block.get(key)
            return f"{value:.4f}" if isinstance(value, int | float) else "–"

        click.echo(
            f"{'*' if v.active else ' '} {v.id:>4}  {v.created_at:%Y-%m-%d %H:%M}"
            f"  {v.created_by[:22]:22} {n!s:>6} {num('accuracy'):>6} {num('mcc'):>6}"
            f" {num('fpr_spam'):>8}  {v.note or ''}"
        )


@model_group.command("evaluate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--format", "fmt", type=FORMATS, help="Format of every FILE (sniffed if not given).")
@click.option("--version", "version", type=int, help="The version to evaluate (default: active).")
def evaluate_command(files: tuple[Path, ...], fmt: str | None, version: int | None) -> None:
    """Print one JSON object: n, accuracy, f1, roc_auc, mcc, fpr_spam, fpr_hold of a version."""
    from moderation import training

    with db.new_session(current_app) as session:
        where = (
            ClassifierVersion.id == version
            if version is not None
            else ClassifierVersion.active.is_(True)
        )
        row = session.scalar(select(ClassifierVersion).where(where))
        if row is None:
            what = f"version {version}" if version is not None else "active version"
            raise click.ClickException(f"there is no {what}")
        settings = load_settings(session)
        version_id, blob, sha256, manifest = row.id, row.artifact, row.sha256, row.manifest
    try:
        classifier = load_version(blob, sha256, manifest or {})
        corpus = training.Corpus.join(training.read_corpus(path, fmt) for path in files)
    except (ArtifactRefused, training.CorpusError) as exc:
        raise click.ClickException(str(exc)) from None
    metrics = training.evaluate(classifier, corpus.docs, corpus.labels, settings)
    out = {key: metrics.get(key) for key in training.EVALUATION_KEYS}
    out.update(
        version=version_id,
        n_spam=metrics["n_spam"],
        n_ham=metrics["n_ham"],
        ham_to_spam=metrics["ham_to_spam"],
        thresholds=metrics["thresholds"],
    )
    click.echo(json.dumps(out))


@model_group.command("rescore")
@click.option("--batch", default=50, show_default=True, help="Comments per transaction.")
def rescore_command(batch: int) -> None:
    """Re-score comments held while no classifier could score them."""
    from moderation.rescore import run_rescore

    holder = get_holder()
    holder.rescore_on_load = False  # this command is the re-score
    result = run_rescore(current_app._get_current_object(), holder.score, batch=batch)
    if result.unavailable:
        raise click.ClickException(
            f"no classifier can score: {holder.status().get('error') or 'unavailable'}"
        )
    click.echo(
        f"re-scored {result.rescored} held comments ({result.skipped} changed meanwhile,"
        f" skipped): {json.dumps(result.statuses, sort_keys=True)}"
    )
