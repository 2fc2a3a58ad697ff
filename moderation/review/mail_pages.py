"""Pages behind the e-mail: a link's confirmation (GET shows, POST acts once), the profile."""

from __future__ import annotations

from flask import Response
from flask import current_app
from flask import render_template
from flask import request
from sqlalchemy.exc import IntegrityError

from moderation.auth import current_principal
from moderation.db import get_session
from moderation.mail.links import ActionLink
from moderation.mail.links import LinkRefusal
from moderation.mail.links import LinkRefused
from moderation.mail.links import read_token
from moderation.problems import Problem
from moderation.queue import apply_decision
from moderation.review.views import _page
from moderation.review.views import bp
from moderation.review.views import moderator_page
from moderation.tables import Comment
from moderation.tables import MailLinkUse
from moderation.tables import MailMode
from moderation.tables import User
from moderation.tables import utcnow

REFUSALS = {
    LinkRefusal.TAMPERED: (400, "This link is not valid", "It was changed or cut short."),
    LinkRefusal.EXPIRED: (
        410,
        "This link has expired",
        "Links in moderation e-mails work for 7 days; open the comment from the review queue.",
    ),
    LinkRefusal.USED: (409, "This link was already used", "Each link acts once."),
    LinkRefusal.OTHER_USER: (
        403,
        "This link was sent to another moderator",
        "Sign in as the moderator it was sent to, or open the comment from the review queue.",
    ),
}


@bp.errorhandler(LinkRefused)
def _link_refused(refused: LinkRefused) -> Response:
    """Show why a link does not act (both the GET and the POST of /act/<token>)."""
    return _refused(refused.reason)


def _refused(reason: LinkRefusal) -> Response:
    status, title, detail = REFUSALS[reason]
    body = render_template("review/act.html", refused=reason, title=title, detail=detail)
    return _page(body, status)


def _check(token: str) -> ActionLink:
    """Return what the link asks, refusing tampered, expired, used and other users' links."""
    link = read_token(
        current_app.config["SECRET_KEY"],
        token,
        float(current_app.config["MAIL_LINK_MAX_AGE_SECONDS"]),
    )
    principal = current_principal()
    if principal is None or principal.user is None or principal.user.id != link.user_id:
        raise LinkRefused(LinkRefusal.OTHER_USER)
    if get_session().get(MailLinkUse, link.token_id) is not None:
        raise LinkRefused(LinkRefusal.USED)
    return link


@bp.get("/act/<token>")
@moderator_page
def confirm_action(token: str) -> Response:
    """Show what the link would do, with a button; a GET never changes anything."""
    link = _check(token)
    comment = get_session().get(Comment, link.comment_id)
    if comment is None:
        raise Problem(404, "Not Found", f"There is no comment {link.comment_id}.")
    return _page(render_template("review/act.html", link=link, comment=comment, token=token))


@bp.post("/act/<token>")
@moderator_page
def take_action(token: str) -> Response:
    """Act once, as the signed-in moderator the link was sent to (CSRF checked)."""
    link = _check(token)
    session = get_session()
    principal = current_principal()
    session.add(MailLinkUse(token_id=link.token_id, user_id=link.user_id, used_at=utcnow()))
    try:
        session.flush()
    except IntegrityError:  # the same link, confirmed twice at once
        session.rollback()
        return _refused(LinkRefusal.USED)
    result = apply_decision(
        session, link.comment_id, link.action, None, principal, "from a moderation e-mail"
    )
    session.commit()
    body = render_template("review/act.html", done=result, link=link, comment=result.comment)
    return _page(body)


@bp.route("/profile", methods=["GET", "POST"])
@moderator_page
def profile_page() -> Response:
    """Choose how e-mail tells of waiting comments: each one, a digest, or none."""
    session = get_session()
    user = session.get(User, current_principal().user.id)
    saved = False
    if request.method == "POST":
        try:
            user.mail_mode = MailMode(request.form.get("mail_mode", ""))
        except ValueError:
            body = render_template(
                "review/profile.html",
                user=user,
                modes=MailMode,
                error="Choose one of the options.",
            )
            return _page(body, 422)
        session.commit()
        saved = True
    minutes = current_app.config["MAIL_DIGEST_MINUTES"]
    body = render_template(
        "review/profile.html", user=user, modes=MailMode, saved=saved, minutes=minutes
    )
    return _page(body)
