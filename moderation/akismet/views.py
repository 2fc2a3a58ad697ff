"""Akismet's REST routes (1.1 and 1.2) over the intake, answered the way Akismet answers.

comment-check runs the comment through the intake (stored, decided, in the review queue)
and answers "true" for spam; submit-spam / submit-ham decide the comment they name, or
keep an unknown one as a labelled example for retraining; verify-key, key-sites,
usage-limit, get-stats, get-key-stats and get-subscription answer with this service's
own figures. Errors are Akismet's: status 200, "invalid", X-akismet-debug-help; only an
unreachable database answers 503 (clients then keep the comment for a later check).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request
from flask import url_for
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from moderation.akismet import checks
from moderation.akismet import reports
from moderation.akismet.fields import Trigger
from moderation.akismet.fields import comment_in
from moderation.akismet.fields import test_trigger
from moderation.akismet.keys import KeyRefused
from moderation.akismet.keys import authenticate
from moderation.akismet.keys import key_from_host
from moderation.akismet.protocol import GUID
from moderation.akismet.protocol import PRO_TIP
from moderation.akismet.protocol import THANKS
from moderation.akismet.protocol import answer
from moderation.akismet.protocol import invalid
from moderation.akismet.protocol import read_fields
from moderation.akismet.protocol import truthy
from moderation.auth import Principal
from moderation.auth import PrincipalKind
from moderation.auth import SiteIdentity
from moderation.db import get_session
from moderation.problems import Problem
from moderation.queue import Action
from moderation.settings import current_settings
from moderation.tables import Status

bp = Blueprint("akismet", __name__)
VERSIONS = ("1.1", "1.2")  # clients call some methods on 1.1, others on 1.2: both answer


def route(name: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register a view at /1.1/<name> and /1.2/<name>, for GET and POST."""

    def decorator(view: Callable[..., Response]) -> Callable[..., Response]:
        for version in VERSIONS:
            bp.add_url_rule(f"/{version}/{name}", view_func=view, methods=["GET", "POST"])
        return view

    return decorator


@bp.errorhandler(KeyRefused)
def _key_refused(exc: KeyRefused) -> Response:
    get_session().commit()  # keep the failed attempt's count
    return invalid(exc.detail)


@bp.errorhandler(Problem)
def _problem(exc: Problem) -> Response:
    if exc.status == 503:
        return Response(exc.detail, status=503, mimetype="text/plain", headers=exc.headers)
    return invalid(exc.detail or exc.title)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return invalid(f"{exc.name}: {exc.description or ''}".strip())


def _bearer() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def sign_in(fields: dict[str, str], *names: str) -> SiteIdentity:
    """Return the calling site: its key in a field, else the host's first label, else bearer."""
    candidates = [fields.get(name, "") for name in names]
    candidates += [key_from_host(request.host) or "", _bearer()]
    return authenticate(get_session(), candidates)


def _required(fields: dict[str, str], *names: str) -> Response | None:
    for name in names:
        if not fields.get(name, "").strip():
            return invalid(f'Empty "{name}" value')
    return None


def _finish(test: bool) -> None:
    session = get_session()
    if test:
        session.rollback()
    else:
        session.commit()


@route("verify-key")
def verify_key() -> Response:
    """Answer "valid" for a site's Akismet key or site key, "invalid" otherwise."""
    fields = read_fields(request)
    sign_in(fields, "key", "api_key")
    missing = _required(fields, "blog")
    return missing or answer("valid")


@route("comment-check")
def comment_check() -> Response:
    """Take the comment through the intake; "true" when spam (or held, if so set)."""
    fields = read_fields(request)
    site = sign_in(fields, "api_key", "key")
    missing = _required(fields, "blog", "user_ip")
    if missing:
        return missing
    test = truthy(fields.get("is_test"))
    forced = test_trigger(fields)
    if forced is not None:  # Akismet's test values: answered, nothing stored
        headers = {PRO_TIP: "discard"} if forced.discard else {}
        return answer("true" if forced.trigger is Trigger.SPAM else "false", headers)
    try:
        data = comment_in(fields)
    except ValidationError as exc:  # a gap in the normalising: still an answer, no 500
        return invalid(f"Unusable fields: {exc.error_count()} error(s)")
    outcome = checks.check(site, data, fields)
    settings = current_settings(get_session())
    _finish(test)
    headers = {"X-Moderation-Status": outcome.status_label}
    if outcome.note:
        headers["X-akismet-debug-help"] = outcome.note
    if outcome.comment_id is not None and not test:
        headers[GUID] = str(outcome.comment_id)
        headers["Location"] = url_for("api.get_comment", comment_id=outcome.comment_id)
    if outcome.discard(settings.akismet_discard_score):
        headers[PRO_TIP] = "discard"
    spam = outcome.status is Status.SPAM or (
        outcome.status is Status.PENDING and settings.akismet_held_is_spam
    )
    return answer("true" if spam else "false", headers)


def _submit(action: Action) -> Response:
    fields = read_fields(request)
    site = sign_in(fields, "api_key", "key")
    missing = _required(fields, "blog")
    if missing:
        return missing
    if "user_ip" not in fields and "comment_author_IP" in fields:  # a WordPress row
        fields["user_ip"] = fields["comment_author_IP"]
    test = truthy(fields.get("is_test"))
    if not test:
        actor = Principal(PrincipalKind.SITE, site=site)
        checks.submit(site, actor, action, fields)
    _finish(test)
    return answer(THANKS)


@route("submit-spam")
def submit_spam() -> Response:
    """Mark the comment spam: the site's moderators say it is (always thanked)."""
    return _submit(Action.SPAM)


@route("submit-ham")
def submit_ham() -> Response:
    """Mark the comment not spam: the site's moderators say so (always thanked)."""
    return _submit(Action.APPROVE)


def _json(body: Any) -> Response:
    return jsonify(body)


@route("usage-limit")
def usage_limit() -> Response:
    """Answer this month's calls; the service sets no limit ("none")."""
    fields = read_fields(request)
    site = sign_in(fields, "api_key", "key")
    return _json(reports.usage_limit(get_session(), site))


@route("key-sites")
def key_sites() -> Response:
    """Answer the key's sites (one: the site it belongs to) and their month, JSON or csv."""
    fields = read_fields(request)
    key = fields.get("api_key") or fields.get("key") or ""
    site = sign_in(fields, "api_key", "key")
    report = reports.key_sites(get_session(), site, fields)
    if fields.get("format", "").strip().lower() == "csv":
        return Response(reports.key_sites_csv(report, key), mimetype="text/csv")
    return _json(report.as_json())


@route("get-stats")
def get_stats() -> Response:
    """Answer the site's spam and ham counts over 60 days, 6 months or all time."""
    fields = read_fields(request)
    site = sign_in(fields, "key", "api_key")
    return _json(reports.stats(get_session(), site, fields.get("from", ""), per_key=False))


@route("get-key-stats")
def get_key_stats() -> Response:
    """Answer the key's stats (the same figures, with the number of sites)."""
    fields = read_fields(request)
    site = sign_in(fields, "key", "api_key")
    return _json(reports.stats(get_session(), site, fields.get("from", ""), per_key=True))


@route("get-subscription")
def get_subscription() -> Response:
    """Answer the subscription WordPress's settings screen reads: active, no limit."""
    fields = read_fields(request)
    key = fields.get("key") or fields.get("api_key") or ""
    site = sign_in(fields, "key", "api_key")
    return _json(reports.subscription(site, key))


@route("deactivate")
def deactivate() -> Response:
    """Answer "deactivated" (WordPress's plugin calls it when deactivated; the key stays)."""
    fields = read_fields(request)
    sign_in(fields, "key", "api_key")
    return answer("deactivated")


@route("<path:name>")
def unknown_method(name: str) -> Response:
    """Answer a method this service does not offer the way Akismet answers an error."""
    return invalid(f"Unknown method {name!r}: this service offers {', '.join(METHODS)}.")


METHODS = (
    "verify-key",
    "comment-check",
    "submit-spam",
    "submit-ham",
    "usage-limit",
    "key-sites",
    "get-stats",
    "get-key-stats",
    "get-subscription",
    "deactivate",
)
