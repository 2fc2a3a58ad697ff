"""Confirming a destructive admin action on a page of its own (works without JavaScript).

The list links to the question (a GET that changes nothing); its CSRF-protected form
posts the answer; a POST without the answer only leads back to the question.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response
from flask import redirect
from flask import request

from moderation.admin.pages import render_page

# What the confirmation pages' buttons send as "confirm".
REVOKE = "revoke"
REPLACE = "replace"


@dataclass(frozen=True)
class Question:
    """What the confirmation page asks, and where its answer goes."""

    title: str  # "Revoke the key of blog?"
    consequence: str  # what happens, in a sentence or two
    action_url: str  # where the confirming form posts
    answer: str  # the value the form's button sends as "confirm"
    button: str  # the button's label
    cancel_url: str
    nav_page: str  # which admin tab is current


def ask(question: Question) -> Response:
    """Render the confirmation page."""
    return render_page("admin/confirm.html", 200, page=question.nav_page, question=question)


def confirmed(answer: str) -> bool:
    """Return whether this POST carries the confirmation page's answer."""
    return request.form.get("confirm") == answer


def back_to(url: str) -> Response:
    """Send an unconfirmed POST to the question (303: see the page, post nothing again)."""
    return redirect(url, 303)
