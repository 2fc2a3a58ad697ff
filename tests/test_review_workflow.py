"""The review page as a moderator works in it all day: fast keys, undo, selection, triage."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from flask import Flask
from flask import request
from markupsafe import escape
from playwright.sync_api import expect

from moderation import db
from moderation.tables import Comment
from moderation.tables import Status
from tests.conftest import audit_events
from tests.test_admin_page import sign_in as admin_sign_in
from tests.test_review_page import Watch
from tests.test_review_page import decided
from tests.test_review_page import sign_in
from tests.test_review_page import statuses
from tests.test_review_page import tab_counts

pytestmark = pytest.mark.browser
DECISION_DELAY = 0.15  # seconds the server takes per decision: keys come faster than that


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Poll the counts often, so a test sees the page update."""
    return {**app_config, "REVIEW_POLL_SECONDS": 0.4}


def slow_decisions(app: Flask) -> None:
    """Make every decision take DECISION_DELAY on the server (before the app's first request)."""

    @app.before_request
    def _slow() -> None:
        if request.method == "POST" and request.path.startswith(
            ("/api/v1/decisions", "/api/v1/comments/")
        ):
            time.sleep(DECISION_DELAY)


def post_comments(site_api: Any, n: int, **fields: Any) -> list[int]:
    made = []
    for i in range(n):
        response = site_api.post(content=f"A thoughtful comment, number {i}.", **fields)
        assert response.status_code == 201, response.get_json()
        made.append(response.get_json()["id"])
    return made


def card_ids(page: Any) -> list[int]:
    return [
        int(i)
        for i in page.eval_on_selector_all(
            "#cards > .card:not([hidden])", "cards => cards.map(c => c.dataset.id)"
        )
    ]


def test_fast_keys_are_queued_undo_restores_and_keys_act_on_the_selection(
    app, context, live_server, site_api
):
    slow_decisions(app)
    made = post_comments(site_api, 8)
    assert set(statuses(app).values()) == {Status.PENDING}
    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in(page, live_server)
    order = card_ids(page)
    assert order == sorted(made, reverse=True)

    # Three quick "a": three comments approved, in order, none dropped.
    for _ in range(3):
        page.keyboard.press("a")
    for comment_id in order[:3]:
        decided(page, comment_id, "approved")
    stored = statuses(app)
    assert [stored[i] for i in order] == [Status.APPROVED] * 3 + [Status.PENDING] * 5
    assert page.locator("#cards > .card.is-current").get_attribute("data-id") == str(order[3])

    # z undoes the last decision, then the one before: back to what they were, audited.
    page.keyboard.press("z")
    page.keyboard.press("z")
    page.locator(f'#comment-{order[1]}[data-status="pending"]:not([hidden])').wait_for()
    page.locator(f'#comment-{order[2]}[data-status="pending"]:not([hidden])').wait_for()
    stored = statuses(app)
    assert [stored[i] for i in order[:3]] == [Status.APPROVED, Status.PENDING, Status.PENDING]
    undone = audit_events(app, order[2])[-1]
    assert (undone.from_status, undone.to_status, undone.note) == (
        Status.APPROVED,
        Status.PENDING,
        "undo",
    )
    assert undone.user_id is not None
    assert card_ids(page) == order[1:]  # back in their places
    assert tab_counts(page)["pending"] == 7

    # With a selection, "r" rejects the selection, not the current card.
    page.locator(f"#select-{order[3]}").check()
    page.locator(f"#select-{order[4]}").check()
    assert page.locator("#selected-count").inner_text() == "2 selected"
    page.locator(f"#comment-{order[1]}").focus()
    page.keyboard.press("r")
    decided(page, order[3], "rejected")
    decided(page, order[4], "rejected")
    stored = statuses(app)
    assert stored[order[1]] is Status.PENDING
    assert (stored[order[3]], stored[order[4]]) == (Status.REJECTED, Status.REJECTED)
    assert page.locator("#selected-count").inner_text() == "0 selected"

    # Shift+S with nothing selected: a message, nothing changes.
    page.keyboard.press("Shift+S")
    assert "Select comments first" in page.locator("#flash").inner_text()
    # Shift+S on a selection marks it as spam; z undoes the whole bulk decision.
    page.locator(f"#select-{order[5]}").check()
    page.locator(f"#select-{order[6]}").check()
    page.keyboard.press("Shift+S")
    page.keyboard.press("z")
    page.locator(f'#comment-{order[6]}[data-status="pending"]:not([hidden])').wait_for()
    page.locator(f'#comment-{order[5]}[data-status="pending"]:not([hidden])').wait_for()
    assert [e.to_status for e in audit_events(app, order[5])] == [
        Status.PENDING,
        Status.SPAM,
        Status.PENDING,
    ]
    stored = statuses(app)
    assert list(stored.values()).count(Status.PENDING) == 5

    # "Back to pending" on a decided card, from the Rejected tab.
    page.goto(f"{live_server}/review/?status=rejected")
    card = page.locator(f"#comment-{order[3]}")
    card.get_by_role("button", name="Back to pending").click()
    decided(page, order[3], "pending")
    assert statuses(app)[order[3]] is Status.PENDING
    assert watch.fired() == []


def test_undo_survives_a_reload(app, context, live_server, site_api):
    made = post_comments(site_api, 3)
    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in(page, live_server)
    order = card_ids(page)
    assert order == sorted(made, reverse=True)
    page.keyboard.press("s")
    decided(page, order[0], "spam")
    assert statuses(app)[order[0]] is Status.SPAM

    # A reload forgets the page's memory; the server remembers the decision.
    page.reload()
    assert card_ids(page) == order[1:]
    page.keyboard.press("z")
    expect(page.locator("#flash")).to_contain_text(f"Undone: comment #{order[0]} is pending again")
    assert statuses(app)[order[0]] is Status.PENDING
    undone = audit_events(app, order[0])[-1]
    assert (undone.from_status, undone.to_status, undone.note) == (
        Status.SPAM,
        Status.PENDING,
        "undo",
    )
    assert undone.user_id is not None
    # And through the API, as a site sees it.
    answer = site_api.client.get(
        f"/api/v1/comments/{order[0]}", headers=site_api.creds.headers("site")
    )
    assert answer.get_json()["status"] == "pending"
    # Nothing older of this moderator's: z says so and changes nothing.
    page.keyboard.press("z")
    expect(page.locator("#flash")).to_contain_text("Nothing to undo.")
    assert set(statuses(app).values()) == {Status.PENDING}
    watch.allow("status of 404")  # the API's answer to that undo: nothing to undo
    assert watch.fired() == []


def test_the_queue_flows_on_and_its_counts_stay_current(app, context, live_server, site_api):
    slow_decisions(app)
    made = post_comments(site_api, 7)
    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in(page, live_server, "/review/?limit=3")
    assert card_ids(page) == sorted(made, reverse=True)[:3]

    # j at the last card loads the next page and moves on.
    for _ in range(3):
        page.keyboard.press("j")
    page.locator("#cards > .card:nth-child(4).is-current").wait_for()
    assert page.locator("#cards > .card").count() == 6

    # Approving everything: the list refills, no "all done" while comments wait.
    page.locator("#cards > .card").first.focus()
    for _ in range(5):
        page.keyboard.press("a")
    expect(page.locator("#cards > .card[aria-busy]")).to_have_count(0)
    for comment_id in sorted(made, reverse=True)[:5]:
        decided(page, comment_id, "approved")
    assert page.locator("#empty").is_hidden()
    assert len(card_ids(page)) == 2
    page.keyboard.press("a")
    page.keyboard.press("a")
    page.locator("#empty").wait_for(state="visible")
    assert "Nothing waits for review" in page.locator("#empty").inner_text()
    assert set(statuses(app).values()) == {Status.APPROVED}
    assert tab_counts(page)["pending"] == 0

    # A comment arrives while the page is open: the pending count follows.
    post_comments(site_api, 1)
    expect(page.locator("[data-count=pending]")).to_have_text("1")
    assert watch.fired() == []


def give_score(app: Flask, scores: dict[int, float]) -> None:
    with db.new_session(app, write=True) as s:
        for comment_id, score in scores.items():
            comment = s.get(Comment, comment_id)
            comment.spam_score = score
            comment.reasons = [*comment.reasons, {"code": "hold_score", "detail": f"{score}"}]
        s.commit()


def test_triage_sorts_filters_and_keeps_the_place(app, context, live_server, site_api):
    a, b, c = post_comments(site_api, 3)
    troll = site_api.post(
        author_email="troll@example.org", author_ip="203.0.113.66", content="First troll text."
    ).get_json()["id"]
    elsewhere = site_api.post(
        "other_site", author_email="troll@example.org", content="Troll on another site."
    ).get_json()["id"]
    give_score(app, {a: 0.2, b: 0.9, c: 0.6, troll: 0.7})
    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in(page, live_server, "/review/?sort=score")
    assert card_ids(page) == [b, troll, c, a, elsewhere]

    page.select_option("#sort", "oldest")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**sort=oldest**")
    assert card_ids(page) == [a, b, c, troll, elsewhere]

    page.select_option("#reason", "hold_score")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**reason=hold_score**")
    assert card_ids(page) == [a, b, c, troll]
    page.get_by_role("link", name="Show everything").click()
    page.wait_for_url("**sort=oldest**")
    assert "reason=" not in page.url

    # The author's email is a filter; the filter and the sort stay in the URL.
    page.locator(f"#comment-{troll} .meta").get_by_role("link", name="troll@example.org").click()
    page.wait_for_url(re.compile(r"author=troll(%40|@)example\.org"))
    assert "sort=oldest" in page.url
    assert card_ids(page) == [troll, elsewhere]
    assert "by troll@example.org" in page.locator("#active-filters").inner_text()
    place = page.url

    # Details -> Back returns to the same place.
    page.locator(f"#comment-{troll}").get_by_role("link", name="Details & history").click()
    page.wait_for_url(f"**/review/comments/{troll}**")
    page.get_by_role("link", name="Back to the queue").click()
    page.wait_for_url(place)
    assert card_ids(page) == [troll, elsewhere]

    # The IP is a filter too; the author panel lists their comments on every site.
    page.locator(f"#comment-{troll} .meta").get_by_role("link", name="203.0.113.66").click()
    page.wait_for_url("**ip=203.0.113.66**")
    assert card_ids(page) == [troll]
    panel = page.locator(f"#comment-{troll} .author-panel")
    panel.locator("summary").click()
    panel.locator(".author-list li a").nth(1).wait_for()
    listed = panel.locator(".author-list").inner_text()
    assert "other-blog" in listed
    assert "blog" in listed
    assert "2 pending" in panel.locator("[data-role=author-counts]").inner_text()
    assert watch.fired() == []


def test_after_a_409_the_card_shows_the_current_status(app, context, live_server, site_api, creds):
    (comment_id,) = post_comments(site_api, 1)
    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in(page, live_server, "/review/?status=all")
    changed = page.request.post(
        f"{live_server}/api/v1/comments/{comment_id}/spam", headers=creds.headers("admin"), data={}
    )
    assert changed.status == 200
    page.keyboard.press("a")
    card = page.locator(f"#comment-{comment_id}")
    card.locator(".card-error").wait_for(state="visible")
    assert card.locator("[data-role=badge]").inner_text().lower() == "spam"
    assert card.get_attribute("data-status") == "spam"
    assert card.get_attribute("data-version") == "2"
    assert card.get_by_role("button", name="Not spam").is_enabled()
    assert statuses(app)[comment_id] is Status.SPAM
    watch.allow("status of 409")
    assert watch.fired() == []


def test_rendering_right_to_left_paragraphs_and_inert_links(app, context, live_server, site_api):
    held = site_api.post(
        content="<p>مرحبا بالعالم</p><p>See https://shop.example/deal and"
        ' <a href="https://two.example/">two</a></p>'
    ).get_json()["id"]
    approved = site_api.post(content="Read https://docs.example/page please").get_json()["id"]
    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in(page, live_server, "/review/?status=all")
    page.request.post(
        f"{live_server}/api/v1/comments/{approved}/approve",
        headers={"X-CSRFToken": page.locator("meta[name=csrf-token]").get_attribute("content")},
        data={},
    )
    page.reload()
    content = page.locator(f"#comment-{held} .content")
    assert content.get_attribute("dir") == "auto"
    text = content.inner_text()
    assert "<p>" not in text
    assert "مرحبا بالعالم" in text
    assert content.locator("a").count() == 0  # held: nothing to click, not even by keyboard
    assert "(https://shop.example/deal)" in text
    assert "(https://two.example/)" in text
    link = page.locator(f"#comment-{approved} .content a")
    assert link.get_attribute("href") == "https://docs.example/page"
    assert page.locator(f"#comment-{held} .author").get_attribute("dir") == "auto"
    assert watch.fired() == []


def test_shortcuts_can_be_turned_off_and_compact_mode_is_kept(app, context, live_server, site_api):
    first, second = post_comments(site_api, 2)
    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in(page, live_server)
    page.get_by_role("button", name="Keyboard shortcuts").click()
    page.get_by_label("Single-key shortcuts on").uncheck()
    page.get_by_role("button", name="Close").click()
    page.keyboard.press("a")
    page.keyboard.press("j")
    page.reload()  # the setting stays in this browser
    page.keyboard.press("a")
    page.wait_for_timeout(300)
    assert set(statuses(app).values()) == {Status.PENDING}
    assert len(card_ids(page)) == 2
    page.get_by_role("button", name="Keyboard shortcuts").click()
    assert not page.get_by_label("Single-key shortcuts on").is_checked()
    page.get_by_label("Single-key shortcuts on").check()
    page.get_by_role("button", name="Close").click()
    page.locator("#cards > .card").first.focus()
    page.keyboard.press("a")
    decided(page, second, "approved")

    card = page.locator(f"#comment-{first}")
    tall = card.bounding_box()["height"]
    page.get_by_role("button", name="Compact").click()
    assert page.get_by_role("button", name="Compact").get_attribute("aria-pressed") == "true"
    page.locator("#cards").focus()  # the current card stays open: look at another one
    page.reload()
    assert "compact" in page.locator("body").get_attribute("class")
    page.locator("#main").focus()
    assert card.bounding_box()["height"] < tall
    assert watch.fired() == []


@pytest.mark.parametrize(
    ("back", "kept"),
    [
        ("/review/?status=spam&sort=score&author=a%40example.org", True),
        ("/review/", True),
        ("https://evil.example/review/", False),
        ("//evil.example/review/", False),
        ("/review/\\evil.example", False),
        ("/review/comments/1", False),
        ("/admin/", False),
        ("", False),
    ],
)
def test_details_back_goes_only_to_a_queue_page_of_this_app(client, creds, site_api, back, kept):
    (made,) = post_comments(site_api, 1)
    admin_sign_in(client)
    html = client.get(f"/review/comments/{made}", query_string={"back": back}).get_data(
        as_text=True
    )
    link = re.search(r'<p class="back"><a href="([^"]*)"', html).group(1)
    assert link == (escape(back) if kept else "/review/?status=pending")
