"""Akismet's REST protocol (1.1) over the intake, so existing Akismet clients can use us.

A site whose software already speaks Akismet (WordPress's plugin, the client libraries)
points its client at this service and sends its site key as the Akismet API key:
- verify-key answers "valid" or "invalid";
- comment-check runs the comment through the intake, stored and decided exactly as if it
  had been posted to /api/v1/comments, and answers "true" when it is spam;
- submit-spam and submit-ham are the site's moderators correcting a checked comment: its
  status changes (an audit event by the site) and it becomes a label for retraining, as
  a click on the review page does.
A call with is_test=1 is answered as any other and then rolled back: nothing is stored.
Errors are problem+json, as everywhere here: Akismet clients treat any answer but the
words they expect as a failure and keep the comment for a later check (fail closed).
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request
from flask import url_for
from pydantic import ValidationError
from sqlalchemy import select

from moderation.api.comments import take_comment
from moderation.auth import Principal
from moderation.auth import sign_in_site_key
from moderation.auth import site_principal
from moderation.bodies import parse_form_object
from moderation.db import get_session
from moderation.problems import Problem
from moderation.problems import invalid
from moderation.queue import Action
from moderation.queue import apply_decision
from moderation.schemas import CommentIn
from moderation.schemas import error_map
from moderation.storable import parse_id
from moderation.tables import Comment
from moderation.tables import Status

bp = Blueprint("akismet", __name__, url_prefix="/1.1")

FIELDS = {  # Akismet's field → the intake's
    "comment_author": "author_name",
    "comment_author_email": "author_email",
    "comment_author_url": "author_url",
    "comment_content": "content",
    "user_ip": "author_ip",
    "user_agent": "user_agent",
    "referrer": "referrer",
    "permalink": "permalink",
}
POST_FIELDS = ("comment_post_ID", "permalink", "blog")  # the first one given names the post
MAX_FIELDS = 256  # WordPress's plugin also sends the request's server variables
THANKS = "Thanks for making the web a better place."


def _form() -> dict[str, str]:
    """Return the form-encoded body (Akismet's only format); no body is no fields."""
    return parse_form_object(request, max_fields=MAX_FIELDS)


def _sign_in(form: dict[str, str]) -> Principal:
    """Return the site whose key is the api_key field, or whose key is the bearer token."""
    key = form.get("api_key") or form.get("key")
    if key:
        return sign_in_site_key(key)
    return site_principal("Send the site key as the form field api_key (Akismet's API key).")


def _comment_in(form: dict[str, str]) -> CommentIn:
    """Return the intake's validated comment; a 422 names Akismet's fields."""
    data = {ours: form[theirs] for theirs, ours in FIELDS.items() if theirs in form}
    post = next((form[name] for name in POST_FIELDS if form.get(name, "").strip()), None)
    if post is not None:
        data["post_id"] = post
    try:
        return CommentIn.model_validate(data)
    except ValidationError as exc:
        theirs = {ours: name for name, ours in FIELDS.items()} | {"post_id": "comment_post_ID"}
        errors = {theirs.get(field, field): messages for field, messages in error_map(exc).items()}
        raise invalid(errors) from None


def _text(body: str, headers: dict[str, str] | None = None) -> Response:
    return Response(body, mimetype="text/plain", headers=headers or {})


@bp.post("/verify-key")
def verify_key() -> Response:
    """Answer "valid" for a site key in use (the key field), "invalid" for any other."""
    form = _form()
    key = form.get("key") or form.get("api_key") or ""
    try:
        sign_in_site_key(key)
    except Problem as problem:
        if problem.status != 401:
            raise
        return _text("invalid", {"X-akismet-debug-help": problem.detail})
    return _text("valid")


def _is_test(form: dict[str, str]) -> bool:
    """Say whether the client asked for a test call (is_test): answered, never kept."""
    return form.get("is_test", "").strip().lower() in ("1", "true")


def _finish(form: dict[str, str]) -> None:
    """Commit the call's work, or roll it back for a test call (nothing stored)."""
    session = get_session()
    if _is_test(form):
        session.rollback()
    else:
        session.commit()


@bp.post("/comment-check")
def comment_check() -> Response:
    """Take the comment through the intake; answer "true" when it was decided spam."""
    form = _form()
    site = _sign_in(form).site
    comment = take_comment(site, _comment_in(form))
    _finish(form)
    headers = {"X-Moderation-Status": comment.status}
    if not _is_test(form):
        headers["X-akismet-guid"] = str(comment.id)
        headers["Location"] = url_for("api.get_comment", comment_id=comment.id)
    return _text("true" if comment.status == Status.SPAM else "false", headers)


def _checked_comment(principal: Principal, form: dict[str, str]) -> int:
    """Return the id of the site's comment a submission is about (its guid, else its text)."""
    site = principal.site
    guid = form.get("guid", "").strip()
    if guid:
        comment_id = parse_id(guid) or 0  # ids start at 1: none matches
        stmt = select(Comment.id).where(Comment.id == comment_id, Comment.site_id == site.id)
    else:
        data = _comment_in(form)
        stmt = (
            select(Comment.id)
            .where(
                Comment.site_id == site.id,
                Comment.post_id == data.post_id,
                Comment.author_email == data.author_email,
                Comment.content_raw == data.content,
            )
            .order_by(Comment.id.desc())
            .limit(1)
        )
    found = get_session().scalar(stmt)
    if found is None:
        raise Problem(
            404,
            "Not Found",
            "No comment of this site matches: send the X-akismet-guid comment-check gave as"
            " guid, or the same post, author email and text.",
        )
    return found


def _submit(action: Action, method: str) -> Response:
    form = _form()
    principal = _sign_in(form)
    comment_id = _checked_comment(principal, form)
    session = get_session()
    apply_decision(session, comment_id, action, None, principal, f"Akismet {method}")
    _finish(form)
    return _text(THANKS)


@bp.post("/submit-spam")
def submit_spam() -> Response:
    """Mark a checked comment spam: the site's moderators say it is."""
    return _submit(Action.SPAM, "submit-spam")


@bp.post("/submit-ham")
def submit_ham() -> Response:
    """Approve a checked comment: the site's moderators say it is not spam."""
    return _submit(Action.APPROVE, "submit-ham")
