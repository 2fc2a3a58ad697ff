"""The review page in headless Chromium against a live server: keys, bulk, counts, XSS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from moderation import db
from moderation.tables import Comment
from moderation.tables import Status

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
XSS_DIR = Path(__file__).resolve().parents[2] / "shared" / "xss" / "owasp-xss-filter-evasion"
MOD = ("mod@example.org", "mod-password")
XSS_COMMENTS = 40
# What the page may load: itself, its three assets and the JSON API. Nothing else.
ALLOWED_PATHS = ("/review/", "/api/v1/", "/static/review.css", "/static/review.js")
ALLOWED_ASSETS = {"/static/review-icon.svg"}

# Runs before any script of the page: a dialog or console call, from anywhere, is recorded.
HOOKS = """
(() => {
  window.__fired = [];
  for (const name of ["alert", "confirm", "prompt", "print", "open"]) {
    window[name] = function (...args) { window.__fired.push(name + ":" + args.join(" ")); };
  }
  for (const name of ["log", "info", "warn", "error", "debug"]) {
    console[name] = function (...args) {
      window.__fired.push("console." + name + ":" + args.join(" "));
    };
  }
})();
"""


class Watch:
    """Record everything a page does that it should not: dialogs, console, foreign requests."""

    def __init__(self, page: Any, origin: str) -> None:
        self.origin = origin
        self.events: list[str] = []
        page.add_init_script(HOOKS)
        page.on("dialog", self._dialog)
        page.on("console", lambda message: self.events.append(f"console {message.text}"))
        page.on("pageerror", lambda error: self.events.append(f"pageerror {error}"))
        page.on("request", self._request)
        page.on("popup", lambda popup: self.events.append(f"popup {popup.url}"))
        self.page = page

    def _dialog(self, dialog: Any) -> None:
        self.events.append(f"dialog {dialog.type} {dialog.message}")
        dialog.dismiss()

    def _request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        origin = f"{parts.scheme}://{parts.netloc}"
        expected = parts.path.startswith(ALLOWED_PATHS) or parts.path in ALLOWED_ASSETS
        if origin != self.origin or not expected:
            self.events.append(f"request {request.method} {request.url}")

    def allow(self, text: str) -> None:
        """Drop the recorded events that contain `text` (ones the test caused on purpose)."""
        self.events = [event for event in self.events if text not in event]

    def fired(self) -> list[str]:
        """Return what was recorded, including calls the init hooks caught."""
        hooked = self.page.evaluate("window.__fired || []")
        return self.events + hooked


def sign_in(page: Any, base: str, path: str = "/review/") -> None:
    page.goto(base + path)
    assert "/review/login" in page.url
    page.get_by_label("Email").fill(MOD[0])
    page.get_by_label("Password").fill(MOD[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{path}*")


def decided(page: Any, comment_id: object, status: str) -> None:
    """Wait until the page shows the decision: the card left its tab (kept hidden, for undo)."""
    selector = f'#comment-{comment_id}[data-status="{status}"][hidden]:not([aria-busy])'
    page.locator(selector).wait_for(state="attached")


def tab_counts(page: Any) -> dict[str, int]:
    return {
        status: int(page.locator(f'[data-count="{status}"]').inner_text())
        for status in ("pending", "spam", "approved", "rejected", "all")
    }


def statuses(app: Flask) -> dict[int, Status]:
    with db.new_session(app) as s:
        return {cid: status for cid, status in s.execute(select(Comment.id, Comment.status))}


@pytest.fixture
def browser_timeout_ms() -> int:
    """Wait at most 5 s for a page state (this module's pages are small)."""
    return 5_000


def give_scores(app: Flask, scores: dict[int, float]) -> None:
    """Store classifier scores and reasons, as an active classifier would have given them."""
    features = [
        {"feature": "pills", "weight": 1.31},
        {"feature": "url:example", "weight": 0.55},
        {"feature": "thanks", "weight": -0.2},
    ]
    with db.new_session(app, write=True) as s:
        for comment_id, score in scores.items():
            comment = s.get(Comment, comment_id)
            comment.spam_score = score
            comment.classifier_version = 3
            comment.reasons = [
                {"code": "hold_score", "detail": f"{score:.2f} (v3)", "features": features}
            ]
        s.commit()


COMMENTS = [
    ("Grace Hopper", "Great article! I especially liked the part about <em>compilers</em>."),
    ("Cheap Pills", "Buy cheap pills now http://pills.example/buy and http://pills.example/c"),
    ("Alan Turing", "I disagree:\n<blockquote>machines cannot think</blockquote> is not it."),
    ("Casino Bot", "Best casino bonus!!! <b>WIN</b> at https://casino.example now"),
]


def test_moderator_works_the_queue_from_the_keyboard_and_in_bulk(
    app, context, live_server, site_api, creds
):
    ids = {}
    for name, text in COMMENTS:
        response = site_api.post(author_name=name, content=text)
        assert response.status_code == 201, response.get_json()
        ids[name] = response.get_json()["id"]
    reply = site_api.post(author_name="Ada", content="Agreed!", parent_id=ids["Grace Hopper"])
    ids["Ada"] = reply.get_json()["id"]
    give_scores(app, {ids["Cheap Pills"]: 0.82, ids["Casino Bot"]: 0.97, ids["Alan Turing"]: 0.08})

    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in(page, live_server)
    cards = page.locator("#cards > .card")
    assert cards.count() == 5
    assert tab_counts(page) == {"pending": 5, "spam": 0, "approved": 0, "rejected": 0, "all": 5}
    newest = cards.first
    assert newest.get_attribute("data-id") == str(ids["Ada"])
    assert "In reply to Grace Hopper" in newest.inner_text()
    assert page.locator(f"#comment-{ids['Grace Hopper']} .content em").inner_text() == "compilers"
    pills = page.locator(f"#comment-{ids['Cheap Pills']}")
    assert pills.locator("meter").get_attribute("value") == "0.820"
    # The model's internals wait behind a disclosure.
    assert not pills.locator(".features").is_visible()
    pills.get_by_text("Model details").click()
    assert "pills +1.31" in pills.locator(".features").inner_text()
    cards.first.focus()  # back to the top (opening the disclosure made that card current)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)

    # "?" shows the keys, and hides them again.
    page.keyboard.press("?")
    assert page.locator("#keys-help").is_visible()
    page.keyboard.press("?")
    assert not page.locator("#keys-help").is_visible()

    # j/k move; "a" approves the current card without a reload.
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    current = page.locator("#cards > .card.is-current")
    target = current.get_attribute("data-id")
    assert target == cards.nth(1).get_attribute("data-id") == str(ids["Casino Bot"])
    page.evaluate("window.__notReloaded = true")
    page.keyboard.press("a")
    decided(page, target, "approved")
    assert page.evaluate("window.__notReloaded") is True
    assert "approved" in page.locator("#flash").inner_text()
    assert tab_counts(page)["approved"] == 1
    assert page.locator("#cards > .card.is-current").count() == 1  # focus moved on

    # Bulk: select two (one by click, one by "x"), mark them as spam.
    first, second = ids["Cheap Pills"], ids["Alan Turing"]
    page.locator(f"#select-{first}").check()
    page.locator(f"#comment-{second}").focus()
    page.keyboard.press("x")
    assert page.locator("#selected-count").inner_text() == "2 selected"
    page.get_by_role("button", name="Spam selected").click()
    decided(page, first, "spam")
    decided(page, second, "spam")
    assert tab_counts(page) == {"pending": 2, "spam": 2, "approved": 1, "rejected": 0, "all": 5}

    # A comment changed by someone else meanwhile: a clear error, nothing changes.
    stale = page.locator("#cards > .card").first.get_attribute("data-id")
    changed = page.request.post(
        f"{live_server}/api/v1/comments/{stale}/reject", headers=creds.headers("admin"), data={}
    )
    assert changed.status == 200
    page.locator(f"#comment-{stale}").focus()
    page.keyboard.press("s")
    error = page.locator(f"#comment-{stale} .card-error")
    error.wait_for(state="visible")
    assert "changed by someone else" in error.inner_text()
    assert page.locator("#flash").get_attribute("data-kind") == "error"
    watch.allow("status of 409")  # Chromium logs every failed fetch

    stored = statuses(app)
    assert stored[int(target)] is Status.APPROVED
    assert stored[first] is Status.SPAM
    assert stored[second] is Status.SPAM
    assert stored[int(stale)] is Status.REJECTED
    assert list(stored.values()).count(Status.PENDING) == 1

    # The page itself agrees after a reload (counts come from the database).
    page.reload()
    assert tab_counts(page) == {"pending": 1, "spam": 2, "approved": 1, "rejected": 1, "all": 5}
    assert watch.fired() == []


def test_detail_page_shows_the_history_and_decides_in_place(app, context, live_server, site_api):
    comment_id = site_api.post(content="Is this spam?").get_json()["id"]
    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in(page, live_server, f"/review/comments/{comment_id}")
    assert page.locator("#history-rows tr").count() == 1
    page.get_by_role("button", name="Spam").click()
    page.locator("#history-rows tr").nth(1).wait_for()
    assert "Pending → Spam" in page.locator("#history-rows").inner_text()
    assert page.get_by_role("button", name="Not spam").is_enabled()
    assert page.locator(".badge").inner_text().lower() == "spam"
    assert statuses(app)[comment_id] is Status.SPAM
    assert watch.fired() == []


def xss_vectors(limit: int) -> list[str]:
    """Read OWASP filter-evasion vectors (skips when the shared folder is absent)."""
    if not XSS_DIR.is_dir():
        pytest.skip(f"{XSS_DIR} is absent: the shared XSS vectors live beside the project")
    vectors = []
    for path in sorted(XSS_DIR.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            if row.get("is_payload"):
                vectors.append(row.get("payload_normalized") or row["payload"])
    if not vectors:
        pytest.skip(f"no vectors in {XSS_DIR}")
    return vectors[:limit]


def test_xss_vectors_are_shown_and_nothing_runs(app, context, live_server, site_api):
    stored = []
    for n, vector in enumerate(xss_vectors(XSS_COMMENTS)):
        name = f"<img src=x onerror=alert({n})>" if n % 5 == 0 else f"Tester {n}"
        response = site_api.post(content=vector, author_name=name, post_id=f"<b>post{n}</b>")
        if response.status_code == 201:
            stored.append(response.get_json()["id"])
    assert len(stored) >= XSS_COMMENTS * 3 // 4

    page = context.new_page()
    watch = Watch(page, live_server)
    # The hooks must see a call, or "nothing fired" below would prove nothing.
    page.goto(live_server + "/review/login")
    page.evaluate("window.alert('probe')")
    assert watch.fired() == ["alert:probe"]

    sign_in(page, live_server, "/review/?status=all&limit=200")
    assert page.locator("#cards > .card").count() == len(stored)
    for link in page.locator("#cards .content a").all()[:60]:
        link.hover()
    page.mouse.move(5, 5)
    page.keyboard.press("j")
    page.wait_for_timeout(300)

    found = page.evaluate(
        """() => ({
          active: document.querySelectorAll(
            '#cards script, #cards img, #cards iframe, #cards object, #cards embed,'
            + ' #cards svg, #cards math, #cards form, #cards input:not(.select),'
            + ' #cards style, #cards link, #cards meta, #cards base').length,
          handlers: Array.from(document.querySelectorAll('#cards *')).flatMap(
            (el) => Array.from(el.attributes).map((a) => a.name)
          ).filter((name) => name.startsWith('on') || name === 'style').length,
          names: Array.from(document.querySelectorAll('#cards .author')).map((e) => e.textContent),
        })"""
    )
    assert found["active"] == 0
    assert found["handlers"] == 0
    assert "<img src=x onerror=alert(0)>" in found["names"]  # shown as text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-xss.png"))
    assert watch.fired() == []
