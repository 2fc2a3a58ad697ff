"""An account's personal API token on the admin pages: issued, or replaced once confirmed.

A first token replaces nothing and is issued at once; a new one stops the current token
at once, so it is asked for on a page of its own first (see `confirm`).
"""

from __future__ import annotations

from flask import Response
from flask import redirect
from flask import url_for

from moderation.accounts import issue_token
from moderation.admin.actions import find_user
from moderation.admin.confirm import REPLACE
from moderation.admin.confirm import Question
from moderation.admin.confirm import ask
from moderation.admin.confirm import back_to
from moderation.admin.confirm import confirmed
from moderation.admin.pages import admin_page
from moderation.admin.pages import bp
from moderation.admin.pages import flash_problem
from moderation.admin.views import users_page_with
from moderation.db import get_session
from moderation.problems import Problem
from moderation.tables import User


def _replace_question(user: User) -> Question:
    return Question(
        title=f"Give {user.email} a new API token?",
        consequence="The new token replaces the current one at once: scripts that use"
        " the current token are refused until they are given the new one.",
        action_url=url_for("admin.issue_token_form", user_id=user.id),
        answer=REPLACE,
        button=f"Replace the token of {user.email}",
        cancel_url=url_for("admin.users_page"),
        nav_page="users",
    )


@bp.get("/users/<int:user_id>/token")
@admin_page
def confirm_token_page(user_id: int) -> Response:
    """Ask whether to replace an account's API token."""
    return ask(_replace_question(find_user(get_session(), user_id)))


@bp.post("/users/<int:user_id>/token")
@admin_page
def issue_token_form(user_id: int) -> Response:
    """Issue a personal API token and show it once; replacing one needs the confirmation."""
    session = get_session()
    try:
        user = find_user(session, user_id)
        if user.disabled:
            raise Problem(409, "Conflict", "A disabled account gets no token.")
        if user.token_hash is not None and not confirmed(REPLACE):
            return back_to(url_for("admin.confirm_token_page", user_id=user_id))
        token = issue_token(session, user)
        session.commit()
    except Problem as problem:
        flash_problem(problem)
        return redirect(url_for("admin.users_page"))
    return users_page_with(token_user=user, token=token)
