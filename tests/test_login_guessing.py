"""Password guessing: slowed per client and per login, tells nothing, never locks the owner out."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from moderation import db
from moderation.review.throttle import DEVICE_COOKIE
from moderation.tables import LoginSession
from moderation.tables import LoginThrottle
from moderation.tables import utcnow
from tests.test_login import MOD
from tests.test_login import PageUser
from tests.test_login import signed_in

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
HIDDEN_VALUES = re.compile(r'(name="csrf_token" value="|name="csrf-token" content=")[^"]+')


def at(address: str) -> dict[str, Any]:
    """Return the request keywords of a client at `address`."""
    return {"environ_base": {"REMOTE_ADDR": address}}


def answer(response: Any, email: str) -> tuple[int, str, str | None]:
    """Return what a client learns from an answer, the echoed email and CSRF token aside."""
    body = HIDDEN_VALUES.sub(r"\1…", response.get_data(as_text=True)).replace(email, "EMAIL")
    return response.status_code, body, response.headers.get("Retry-After") and "set"


@pytest.fixture
def page(client, creds) -> PageUser:
    """Return the sign-in page driver (the moderator and admin accounts exist)."""
    return PageUser(client)


def test_known_and_unknown_logins_get_the_same_answers(app, page):
    other = PageUser(app.test_client())
    tries = app.config["LOGIN_MAX_FAILURES"] + 2
    known = [answer(page.login(MOD[0], "guess", **at("192.0.2.1")), MOD[0]) for _ in range(tries)]
    unknown_email = "nobody@example.org"
    unknown = [
        answer(other.login(unknown_email, "guess", **at("192.0.2.2")), unknown_email)
        for _ in range(tries)
    ]
    assert known == unknown
    statuses = [status for status, _, _ in known]
    assert statuses == [401] * 4 + [429] * 3  # the 5th failure blocks, both alike


def test_the_owner_signs_in_while_someone_else_guesses(app, page):
    attacker = PageUser(app.test_client())
    statuses = [
        attacker.login(MOD[0], f"guess-{n}", **at(ATTACKER)).status_code for n in range(30)
    ]
    assert statuses[: app.config["LOGIN_MAX_FAILURES"] - 1] == [401] * 4
    assert set(statuses[app.config["LOGIN_MAX_FAILURES"] :]) == {429}
    assert attacker.login(**at(ATTACKER)).status_code == 429  # right password: still blocked
    assert page.login(**at(OWNER)).status_code == 302
    assert signed_in(page.client)


def test_one_address_guessing_many_logins_is_stopped(app, page):
    attacker = PageUser(app.test_client())
    for n in range(app.config["LOGIN_CLIENT_MAX_FAILURES"]):
        attacker.login(f"user{n}@example.org", "guess", **at(ATTACKER))
    assert attacker.login("admin@example.org", "admin-password", **at(ATTACKER)).status_code == 429
    assert page.login("admin@example.org", "admin-password", **at(OWNER)).status_code == 302


def test_a_login_guessed_from_everywhere_still_opens_in_the_owners_browser(app, page):
    app.config["LOGIN_ACCOUNT_MAX_FAILURES"] = 3
    assert page.login(**at(OWNER)).status_code == 302  # this browser becomes a known one
    assert page.client.get_cookie(DEVICE_COOKIE, path="/review/login") is not None
    page.logout()
    for n in range(3):  # a distributed guess: each address below its own limits
        PageUser(app.test_client()).login(MOD[0], "guess", **at(f"203.0.113.{n + 1}"))
    stranger = PageUser(app.test_client())
    assert stranger.login(**at("192.0.2.99")).status_code == 429  # blocked everywhere...
    assert page.login(**at("192.0.2.100")).status_code == 302  # ...but in a known browser
    assert signed_in(page.client)


def test_a_forged_device_cookie_does_not_pass(app, page):
    app.config["LOGIN_ACCOUNT_MAX_FAILURES"] = 1
    PageUser(app.test_client()).login(MOD[0], "guess", **at(ATTACKER))
    page.client.set_cookie(DEVICE_COOKIE, "forged.value.here", path="/review/login")
    assert page.login(**at(OWNER)).status_code == 429


def test_blocks_grow_for_a_client_that_keeps_guessing(app, page):
    limit = app.config["LOGIN_MAX_FAILURES"]
    lock = app.config["LOGIN_LOCK_SECONDS"]
    retry_after = []
    for _ in range(2):
        for _ in range(limit):
            last = page.login(password="guess", **at(ATTACKER))
        retry_after.append(int(last.headers["Retry-After"]))
        with db.new_session(app, write=True) as s:  # the block ends
            s.execute(update(LoginThrottle).values(blocked_until=utcnow()))
            s.commit()
    assert retry_after[0] <= lock < retry_after[1] <= 2 * lock


def test_an_idle_session_ends(app, page):
    assert page.login().status_code == 302
    assert signed_in(page.client)
    app.config["SESSION_IDLE_SECONDS"] = 0
    assert not signed_in(page.client)


def test_a_session_ends_at_its_absolute_timeout_even_in_use(app, page):
    assert page.login().status_code == 302
    assert signed_in(page.client)
    with db.new_session(app, write=True) as s:
        age = timedelta(seconds=app.config["SESSION_MAX_SECONDS"] + 1)
        s.execute(update(LoginSession).values(created_at=utcnow() - age))
        s.commit()
    assert not signed_in(page.client)
