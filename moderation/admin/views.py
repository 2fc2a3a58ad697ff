"""Admin pages: versions side by side, retraining with live status, settings, sites, users."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

import click
from flask import Response
from flask import current_app
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from sqlalchemy import select

from moderation import jobs
from moderation import retraining
from moderation.accounts import AccountError
from moderation.accounts import create_site
from moderation.accounts import create_user
from moderation.admin import actions
from moderation.admin import charts
from moderation.admin.actions import SettingsPatch
from moderation.admin.actions import TrainingJobIn
from moderation.admin.actions import UserPatch
from moderation.admin.actions import change_user
from moderation.admin.actions import find_user
from moderation.admin.actions import merge_settings
from moderation.admin.actions import queue_training_job
from moderation.admin.metrics import MIN_JUDGED
from moderation.admin.metrics import MIN_PER_CLASS
from moderation.admin.metrics import MetricView
from moderation.admin.metrics import comparison_views
from moderation.admin.metrics import metric_view
from moderation.admin.pages import admin_page
from moderation.admin.pages import bp
from moderation.admin.pages import checked
from moderation.admin.pages import flash_problem
from moderation.admin.pages import render_page
from moderation.auth import current_principal
from moderation.db import get_session
from moderation.jobs.progress import job_progress
from moderation.problems import Problem
from moderation.retraining.versions import own_spam_floor
from moderation.schemas import validate_model
from moderation.settings import load_settings
from moderation.settings import save_settings
from moderation.tables import ClassifierVersion
from moderation.tables import JobStatus
from moderation.tables import Role
from moderation.tables import Site
from moderation.tables import User


@bp.record_once
def _set_up_jobs(state: Any) -> None:
    # Jobs belong to the admin feature: their defaults, and failing the jobs a
    # previous run left open, come with the blueprint.
    jobs.init_app(state.app)


@bp.cli.command("run-job")
@click.argument("job_id", type=int, required=False)
def run_job_command(job_id: int | None) -> None:
    """Run a queued training job here (the oldest when no JOB_ID): for JOB_RUNNER=none."""
    app = current_app._get_current_object()
    status = jobs.run_next(app) if job_id is None else jobs.run_job(app, job_id)
    if status is None:
        raise click.ClickException("no queued training job to run")
    click.echo(f"training job ended {status}")
    if status is not JobStatus.SUCCEEDED:
        raise click.exceptions.Exit(1)


# --- classifier versions and retraining ---


@bp.get("/")
@admin_page
def versions_page() -> Response:
    """Show the retrain panel, the candidate beside the active version, and every version."""
    app = current_app._get_current_object()
    session = get_session()
    jobs.look_at_jobs(app, session)
    versions = retraining.list_versions(session)
    active = next((v for v in versions if v.active), None)
    candidate = _candidate(versions, active, request.args.get("compare", type=int))
    settings = load_settings(session)
    pair = comparison_views(candidate, active, settings)
    latest = jobs.list_jobs(session, limit=1)
    return render_page(
        "admin/versions.html",
        page="versions",
        versions=versions,
        views={v.id: metric_view(v.metrics or {}, settings) for v in versions},
        own_floors={v.id: own_spam_floor(v.manifest) for v in versions},
        active=active,
        candidate=candidate,
        pair=pair,
        chart=_chart,
        job=latest[0] if latest else None,
        progress=job_progress(latest[0].status, latest[0].log or "") if latest else None,
        min_judged=MIN_JUDGED,
        min_per_class=MIN_PER_CLASS,
        corpus_files=retraining.available_corpus_files(app.config),
        settings=settings,
        previous=retraining.previous_version(session)[0],
    )


def _candidate(
    versions: list[ClassifierVersion], active: ClassifierVersion | None, wanted: int | None
) -> ClassifierVersion | None:
    if wanted is not None:
        return next((v for v in versions if v.id == wanted and not v.active), None)
    newer = [v for v in versions if not v.active and (active is None or v.id > active.id)]
    return newer[0] if newer else None


def _chart(view: MetricView | None, label: str) -> Any:
    if view is None:
        return charts.pr_curve_svg([], label=label)
    return charts.pr_curve_svg(view.pr_curve, label=label, operating=view.operating)


@bp.post("/training-jobs")
@admin_page
def start_training() -> Response:
    """Queue a retraining from the form (the page then follows it live)."""
    since = request.form.get("since", "").strip()
    body = {
        "include_decisions": checked("include_decisions"),
        "corpus_files": request.form.getlist("corpus_files"),
    }
    try:
        if since:
            body["since"] = datetime.fromisoformat(since).replace(tzinfo=UTC)
        options = validate_model(TrainingJobIn, body)
        session = get_session()
        job = queue_training_job(session, options, current_principal().label)
        session.commit()
    except ValueError:
        flash("The date is not a valid date.", "error")
    except Problem as problem:
        flash_problem(problem)
    else:
        jobs.start_runner(current_app._get_current_object(), job.id)
        flash(f"Training job {job.id} queued.", "info")
    return redirect(url_for("admin.versions_page"))


@bp.post("/versions/<int:version_id>/promote")
@admin_page
def promote_version(version_id: int) -> Response:
    """Promote a version from the page (refused when worse unless forced)."""
    try:
        result = actions.promote_version(
            version_id, force=checked("force"), who=current_principal().label
        )
    except Problem as problem:
        flash_problem(problem)
    else:
        forced = " (forced)" if result.forced else ""
        flash(f"Version {result.version.id} is now active{forced}.", "info")
    return redirect(url_for("admin.versions_page"))


@bp.post("/versions/rollback")
@admin_page
def rollback_version() -> Response:
    """Reactivate the previously active version."""
    try:
        result = actions.rollback_version(current_principal().label)
    except Problem as problem:
        flash_problem(problem)
    else:
        flash(f"Rolled back: version {result.version.id} is active again.", "info")
    return redirect(url_for("admin.versions_page"))


# --- settings ---


def _settings_form() -> dict[str, Any]:
    """Read the settings form into the API's patch shape (the browser sends every field)."""
    form = request.form

    def number(name: str) -> Any:
        raw = form.get(name, "").strip()
        try:
            return float(raw)
        except ValueError:
            return raw  # the model names the field

    def lines(name: str) -> list[str]:
        return form.get(name, "").splitlines()

    max_links = form.get("max_links", "").strip()
    return {
        "spam_threshold": number("spam_threshold"),
        "hold_threshold": number("hold_threshold"),
        "disallowed_words": lines("disallowed_words"),
        "moderation_words": lines("moderation_words"),
        "trust_new_authors": checked("trust_new_authors"),
        "links_alone_never_spam": checked("links_alone_never_spam"),
        "akismet_held_is_spam": checked("akismet_held_is_spam"),
        "akismet_discard_score": (
            number("akismet_discard_score") if form.get("akismet_discard_score") else None
        ),
        "max_links": int(max_links) if max_links.isdigit() else max_links,
    }


# The settings form's fields as the admin reads them (errors name these, not the API's keys).
SETTINGS_LABELS = {
    "spam_threshold": "Spam threshold",
    "hold_threshold": "Hold threshold",
    "max_links": "Hold at this many links",
    "disallowed_words": "Disallowed words",
    "moderation_words": "Moderation words",
    "trust_new_authors": "Trust new authors",
    "links_alone_never_spam": "Links or length alone never send a comment to spam",
    "akismet_held_is_spam": "Answer true for a held comment (Akismet)",
    "akismet_discard_score": "Discard score (Akismet)",
}


@bp.get("/settings")
@admin_page
def settings_page() -> Response:
    """Show the settings form with its preview."""
    return render_page(
        "admin/settings.html", page="settings", settings=load_settings(get_session())
    )


def _field_errors(problem: Problem) -> dict[str, list[str]]:
    """Return a settings problem's messages by field name (the form's own words)."""
    errors = problem.extensions.get("errors") or {}
    if not errors:
        return {"": [problem.detail or problem.title]}
    named: dict[str, list[str]] = {}
    for key, messages in errors.items():
        field = str(key).split(".")[0].split(" ")[0]
        named.setdefault(field if field in SETTINGS_LABELS else "", []).extend(
            _in_words(message) for message in messages
        )
    return named


def _in_words(message: str) -> str:
    """Return a message with the API's field names replaced by the form's labels."""
    for field, label in SETTINGS_LABELS.items():
        message = message.replace(field, label.lower())
    return message


@bp.post("/settings")
@admin_page
def save_settings_form() -> Response:
    """Save the settings form; on an error show it again with the admin's input kept."""
    session = get_session()
    form = _settings_form()
    try:
        patch = validate_model(SettingsPatch, form)
        merged = merge_settings(load_settings(session), patch)
        changes = {key: getattr(merged, key) for key in patch.model_dump(exclude_none=True)}
        save_settings(session, changes, current_principal().label)
        session.commit()
    except Problem as problem:
        session.rollback()
        entered = {
            **form,
            **{
                k: request.form.get(k, "")
                for k in ("spam_threshold", "hold_threshold", "max_links")
            },
        }
        return render_page(
            "admin/settings.html",
            422,
            page="settings",
            settings=entered,
            errors=_field_errors(problem),
            labels=SETTINGS_LABELS,
        )
    flash("Settings saved; every worker applies them within seconds.", "info")
    return redirect(url_for("admin.settings_page"))


# --- sites ---


def sites_page_with(status: int = 200, **context: Any) -> Response:
    """Render the sites list with what an action shows above it (a new key, an error)."""
    sites = get_session().scalars(select(Site).order_by(Site.name)).all()
    return render_page("admin/sites.html", status, page="sites", sites=sites, **context)


@bp.get("/sites")
@admin_page
def sites_page() -> Response:
    """List sites, with the form to create one."""
    return sites_page_with()


@bp.post("/sites")
@admin_page
def create_site_form() -> Response:
    """Create a site and show its key once (never put in a redirect or cookie)."""
    session = get_session()
    name = request.form.get("name", "")
    try:
        site, key = create_site(session, name)
        session.commit()
    except AccountError as exc:
        return sites_page_with(422, error=str(exc), name=name)
    return sites_page_with(new_site=site, new_key=key)


# --- users ---


def users_page_with(status: int = 200, **context: Any) -> Response:
    """Render the accounts list with what an action shows above it (a token, an error)."""
    users = get_session().scalars(select(User).order_by(User.email)).all()
    return render_page(
        "admin/users.html", status, page="users", users=users, roles=list(Role), **context
    )


@bp.get("/users")
@admin_page
def users_page() -> Response:
    """List accounts, with the forms to create and change them."""
    return users_page_with()


@bp.post("/users")
@admin_page
def create_user_form() -> Response:
    """Create an account."""
    session = get_session()
    email = request.form.get("email", "")
    try:
        role = Role(request.form.get("role", Role.MODERATOR.value))
        user = create_user(session, email, request.form.get("password", ""), role)
        session.commit()
    except (AccountError, ValueError) as exc:
        return users_page_with(422, error=str(exc), email=email)
    flash(f"Account {user.email} created ({user.role}).", "info")
    return redirect(url_for("admin.users_page"))


@bp.post("/users/<int:user_id>")
@admin_page
def update_user_form(user_id: int) -> Response:
    """Change an account's role or disabled flag."""
    session = get_session()
    try:
        user = find_user(session, user_id)
        patch = validate_model(
            UserPatch,
            {"role": request.form.get("role", str(user.role)), "disabled": checked("disabled")},
        )
        change_user(session, user, patch, current_principal().user)
        session.commit()
    except Problem as problem:
        flash_problem(problem)
    else:
        state = "disabled" if user.disabled else "enabled"
        flash(f"{user.email}: {user.role}, {state}.", "info")
    return redirect(url_for("admin.users_page"))
