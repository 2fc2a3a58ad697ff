"""Review page views: sign in and out, the queue with its tabs, a comment's detail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session as cookie_session
from flask import url_for
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup

from moderation import queue
from moderation.api.queue import ALL_STATUSES
from moderation.api.queue import QueueView
from moderation.api.queue import etag_of
from moderation.api.queue import load_queue_view
from moderation.auth import CSRF
from moderation.auth import current_principal
from moderation.auth import end_login_session
from moderation.auth import mark_seen
from moderation.auth import page_role
from moderation.auth import start_login_session
from moderation.db import get_session
from moderation.decisions import REASON_LABELS
from moderation.listing import Sort
from moderation.retraining.versions import spam_floors
from moderation.review import throttle
from moderation.review.signin import Outcome
from moderation.review.signin import authenticate
from moderation.sanitize import inert_comment_html
from moderation.settings import current_settings
from moderation.tables import Comment
from moderation.tables import Role
from moderation.tables import Status
from moderation.tables import utcnow

bp = Blueprint("review", __name__, url_prefix="/review")
bp.add_app_template_global(REASON_LABELS, "reason_labels")  # the cards name each reason
TABS = (Status.PENDING, Status.SPAM, Status.APPROVED, Status.REJECTED)
# The query arguments a queue page keeps across tabs, pages, filters and Details -> Back.
KEPT_ARGS = ("q", "post_id", "site", "author", "ip", "reason", "sort", "limit")
FILTER_ARGS = ("q", "post_id", "site", "author", "ip", "reason")
SORT_LABELS = {
    Sort.NEWEST: "Newest first",
    Sort.OLDEST: "Oldest first",
    Sort.SCORE: "Highest score",
}


@bp.app_template_global("inert_html")
def inert_html(comment: Comment) -> Markup:
    """Return a held or spam comment's sanitized HTML with its links as plain text.

    Computed from the raw text by the same sanitizer that made content_html (never by
    changing content_html): the links are shown with their address, nothing to click.
    A card without links shows content_html as is (no second sanitizing on the page).
    """
    html = inert_comment_html(comment.content_raw, comment.content_html)
    return Markup(html)  # noqa: S704 (sanitized by bleach)


def _is_admin() -> bool:
    principal = current_principal()
    return principal is not None and principal.role is Role.ADMIN


def _page(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    # Pages show commenters' personal data: never keep them in a shared cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# Send anonymous visitors to the sign-in page; let only moderators and admins in.
moderator_page = page_role(Role.MODERATOR)


def _safe_next(target: str | None) -> str:
    """Return `target` if it is a path on the review or admin pages, else the queue."""
    default = url_for("review.queue_page")
    if not target:
        return default
    if not target.isprintable():  # CR, LF and other controls never reach a Location header
        return default
    parts = urlsplit(target)
    prefixes = (bp.url_prefix or "/review", "/admin")
    if parts.scheme or parts.netloc or "\\" in target or not parts.path.startswith(prefixes):
        return default
    return target


def _login_form(error: str | None = None, status: int = 200, email: str = "") -> Response:
    body = render_template(
        "review/login.html",
        error=error,
        email=email,
        next=_safe_next(request.values.get("next")),
    )
    return _page(body, status)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """Show the sign-in form, or check it and start a server-side session."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(_safe_next(request.args.get("next")))
        return _login_form()
    try:
        current_app.extensions[CSRF].protect()
    except CSRFError:
        return _login_form("The form expired; please sign in again.", 400)
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    session = get_session()
    now = utcnow()
    config = current_app.config
    keys = throttle.keys_for(request.remote_addr or "unknown", email)
    known_device = throttle.is_known_device(
        config["SECRET_KEY"], request.cookies.get(throttle.DEVICE_COOKIE), keys
    )
    until = throttle.blocked_until(session, keys, now, known_device=known_device)
    if until is not None:  # refused before any password check: guessing gains nothing
        return _refused(Outcome.LOCKED, until, email, now)
    attempt = authenticate(session, email, password)
    if attempt.outcome is Outcome.BAD_CREDENTIALS:
        until = throttle.record_failure(session, keys, now, throttle.Limits.from_config(config))
        session.commit()  # keep the count
        return _refused(Outcome.LOCKED if until else attempt.outcome, until, email, now)
    if attempt.outcome is not Outcome.SIGNED_IN:
        return _refused(attempt.outcome, None, email, now)
    throttle.record_success(session, keys)
    user_session = start_login_session(session, attempt.user)
    session.commit()
    cookie_session.clear()  # nothing from before sign-in survives (fixation, old tokens)
    login_user(user_session)
    mark_seen()
    response = redirect(_safe_next(request.form.get("next")))
    response.set_cookie(
        throttle.DEVICE_COOKIE,
        throttle.device_cookie(config["SECRET_KEY"], keys),
        max_age=throttle.DEVICE_MAX_AGE,
        path=url_for("review.login"),
        secure=current_app.session_interface.get_cookie_secure(current_app),
        httponly=True,
        samesite="Lax",
    )
    return response


def _refused(
    outcome: Outcome, locked_until: datetime | None, email: str, now: datetime
) -> Response:
    if outcome is Outcome.LOCKED and locked_until is not None:
        minutes = max(1, round((locked_until - now).total_seconds() / 60))
        message = (
            "Too many failed sign-ins: try again from here in about"
            f" {minutes} minute{'s' if minutes != 1 else ''}."
        )
        response = _login_form(message, 429, email)
        response.headers["Retry-After"] = str(max(1, int((locked_until - now).total_seconds())))
        return response
    if outcome is Outcome.DISABLED:
        return _login_form("This account is disabled; ask an admin.", 403, email)
    return _login_form("Wrong email or password.", 401, email)


@bp.post("/logout")
def logout() -> Response:
    """End this browser session everywhere (a copied cookie stops working too)."""
    current_app.extensions[CSRF].protect()
    if current_user.is_authenticated:
        session = get_session()
        end_login_session(session, current_user.get_id())
        session.commit()
    logout_user()
    cookie_session.clear()
    return redirect(url_for("review.login"))


def _tab_url(status: Status | str, args: dict[str, str]) -> str:
    return url_for("review.queue_page", **{**args, "status": str(status)})


def _filter_url(status: str, kept: dict[str, str]) -> Callable[[str, object], str]:
    """Return a maker of links that add one filter to the current ones (first page)."""

    def make(key: str, value: object) -> str:
        return url_for("review.queue_page", **{**kept, key: str(value), "status": status})

    return make


def _safe_back(target: str | None, default: str) -> str:
    """Return `target` when it is a queue page of this app (Details -> Back), else `default`."""
    if _safe_next(target) != target or urlsplit(target).path != url_for("review.queue_page"):
        return default  # _safe_next refused it, or it is another review or admin page
    return target


def _capped(view: QueueView, status: Status) -> bool:
    """Return whether a tab's count is a lower bound (it reached the cap and is not exact)."""
    return status not in view.exact and view.counts[status] >= view.cap


@bp.get("/")
@moderator_page
def queue_page() -> Response:
    """Show one page of the queue: tabs with counts, cards, bulk actions, search."""
    session = get_session()
    view = load_queue_view(session, request.args)
    page, counts, cap, status = view.page, view.counts, view.cap, view.status
    kept = {key: value for key in KEPT_ARGS if (value := request.args.get(key))}
    body = render_template(
        "review/queue.html",
        status=status,
        tabs=[(tab, counts[tab], _tab_url(tab, kept), _capped(view, tab)) for tab in TABS],
        total=sum(counts.values()),
        total_capped=any(_capped(view, tab) for tab in TABS),
        cap=cap,
        all_url=_tab_url(ALL_STATUSES, kept),
        comments=page.items,
        floors=spam_floors(session, {c.classifier_version for c in page.items}),
        parents=queue.parents_of(session, page.items),
        sites=queue.site_names(session),
        settings=current_settings(session),
        filters={key: value for key, value in kept.items() if key in FILTER_ARGS},
        kept=kept,
        sort=view.sort,
        sorts=[
            (sort, label, _tab_url(status, {**kept, "sort": str(sort)}))
            for sort, label in SORT_LABELS.items()
        ],
        reasons=sorted(REASON_LABELS.items(), key=lambda item: item[1]),
        filter_url=_filter_url(status, kept),
        clear_url=_tab_url(status, {k: v for k, v in kept.items() if k not in FILTER_ARGS}),
        back_path=request.script_root + request.full_path.rstrip("?"),
        poll_seconds=current_app.config["REVIEW_POLL_SECONDS"],
        is_admin=_is_admin(),
        next_url=url_for(
            "review.queue_page", **kept, status=status, cursor=page.next_cursor.encode()
        )
        if page.next_cursor
        else None,
        first_url=_tab_url(status, kept) if request.args.get("cursor") else None,
        user=current_principal().label,
        etag_of=etag_of,
    )
    return _page(body)


@bp.get("/comments/<int:comment_id>")
@moderator_page
def comment_page(comment_id: int) -> Response:
    """Show one comment with everything known about it and its history."""
    session = get_session()
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise queue.not_found(comment_id)
    body = render_template(
        "review/detail.html",
        status=str(comment.status),
        comment=comment,
        floors=spam_floors(session, {comment.classifier_version}),
        parents=queue.parents_of(session, [comment]),
        sites=queue.site_names(session),
        settings=current_settings(session),
        history=queue.history(session, comment_id),
        user=current_principal().label,
        etag_of=etag_of,
        back_url=_safe_back(
            request.args.get("back"), url_for("review.queue_page", status=str(comment.status))
        ),
        filter_url=_filter_url(ALL_STATUSES, {}),
        back_path=None,
        is_admin=_is_admin(),
    )
    return _page(body)
