"""The admin pages a moderator-admin meets from the review page: honest comparisons, a
progress bar, a confirmation before revoking, kept input, tables that fit a phone."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from moderation import db
from moderation.admin.metrics import f1_bootstrap_interval
from moderation.admin.metrics import wilson_interval
from moderation.admin.views import SETTINGS_LABELS
from moderation.jobs.progress import job_progress
from moderation.retraining.evaluation import compare
from moderation.retraining.evaluation import evaluate_scores
from moderation.settings import ModerationSettings
from moderation.settings import load_settings
from moderation.tables import ClassifierVersion
from moderation.tables import JobStatus
from moderation.tables import Site
from moderation.tables import TrainingJob
from moderation.tables import utcnow
from tests.admin_support import fit_base
from tests.admin_support import store_version

pytestmark = pytest.mark.browser
ADMIN = ("admin@example.org", "admin-password")
MOD = ("mod@example.org", "mod-password")


class Watch:
    """Record page errors, console messages and native dialogs (none is expected)."""

    def __init__(self, page: Any, origin: str) -> None:
        self.events: list[str] = []
        page.on("console", lambda message: self.events.append(f"console {message.text}"))
        page.on("pageerror", lambda error: self.events.append(f"pageerror {error}"))
        page.on("dialog", lambda dialog: self.events.append(f"dialog {dialog.message}"))

    def allow(self, text: str) -> None:
        """Drop the recorded events that contain `text`."""
        self.events = [event for event in self.events if text not in event]

    def fired(self) -> list[str]:
        """Return what was recorded."""
        return self.events


def sign_in_as(page: Any, base: str, who: tuple[str, str], path: str) -> None:
    page.goto(base + path)
    page.get_by_label("Email").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{path}*")


def evaluation(n_spam: int, n_ham: int, caught: int, false_alarms: int) -> dict[str, Any]:
    """Return evaluate_scores' metrics for a made-up held-out set (real code, known answers)."""
    labels = [True] * n_spam + [False] * n_ham
    scores = [0.95] * caught + [0.1] * (n_spam - caught)
    scores += [0.7] * false_alarms + [0.05] * (n_ham - false_alarms)
    return evaluate_scores(labels, scores, ModerationSettings())


def give_metrics(app: Flask, version_id: int, metrics: dict[str, Any]) -> None:
    with db.new_session(app, write=True) as s:
        s.get(ClassifierVersion, version_id).metrics = metrics
        s.commit()


def test_intervals_and_progress_are_computed_from_what_is_stored():
    low, high = wilson_interval(12, 14)
    assert 0.55 < low < 0.62  # 12/14 = 0.857
    assert 0.95 < high < 0.97
    assert wilson_interval(0, 0) is None
    small = f1_bootstrap_interval({"tp": 2, "fp": 1, "fn": 0, "tn": 11})
    large = f1_bootstrap_interval({"tp": 700, "fp": 20, "fn": 30, "tn": 836})
    assert small[1] - small[0] > 0.4  # 14 comments say little
    assert large[1] - large[0] < 0.05
    assert large[0] < 2 * 700 / (2 * 700 + 50) < large[1]
    log = "started by host:1:2\n20 labelled texts: 18 to learn from (9 spam, 9 ham); judged on 2\n"
    assert job_progress(JobStatus.RUNNING, log) == job_progress("running", log)
    progress = job_progress(JobStatus.RUNNING, log)
    assert (progress.done, progress.total, progress.stage) == (2, 5, "labels read")
    assert job_progress(JobStatus.QUEUED, "").stage == "waiting for a worker"
    assert job_progress(JobStatus.SUCCEEDED, "").done == 5
    assert job_progress(JobStatus.FAILED, log + "failed: boom").stage == "failed"


def test_a_comparison_on_few_comments_is_no_verdict_and_says_so(app, context, live_server, creds):
    clf = fit_base()
    active = store_version(app, clf, active=True, note="base")
    small = store_version(app, clf, active=False, note="small")
    big = store_version(app, clf, active=False, note="big")
    give_metrics(app, active, {"holdout": evaluation(730, 856, 700, 20)})
    tiny_candidate, tiny_active = evaluation(2, 12, 2, 1), evaluation(2, 12, 1, 1)
    give_metrics(
        app,
        small,
        {
            "holdout": tiny_candidate,
            "active_on_holdout": tiny_active,
            "compared_with": active,
            "comparison": compare(tiny_candidate, tiny_active),
        },
    )
    assert compare(tiny_candidate, tiny_active)["acceptable"] is True  # the old green verdict
    give_metrics(app, big, {"holdout": evaluation(300, 400, 290, 5)})

    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in_as(page, live_server, ADMIN, f"/admin/?compare={small}")
    verdict = page.locator("[data-role=verdict]")
    assert "Too few held-out comments to judge: 14 (2 spam, 12 ham)" in verdict.inner_text()
    assert "verdict-ok" not in verdict.get_attribute("class")
    candidate = page.locator("#candidate-version")
    assert "95 %" in candidate.locator("[data-metric=f1-interval]").inner_text()
    assert "95 %" in candidate.locator("[data-metric=accuracy-interval]").inner_text()

    rows = page.locator("table.versions")
    small_row = rows.locator(f'tr[data-version-id="{small}"]')
    assert "too few to judge" in small_row.text_content()
    big_row = rows.locator(f'tr[data-version-id="{big}"]')
    assert "too few to judge" not in big_row.text_content()
    assert "700 comments" in big_row.inner_text()
    assert "(0." in big_row.locator("td").nth(2).inner_text()  # F1 with its interval

    # A big enough comparison keeps its verdict.
    page.goto(f"{live_server}/admin/?compare={big}")
    assert page.locator("[data-role=verdict]").count() == 0 or "Too few" not in (
        page.locator("[data-role=verdict]").inner_text()
    )
    assert watch.fired() == []


def test_a_running_job_shows_a_progress_bar(app, context, live_server, creds):
    with db.new_session(app, write=True) as s:
        now = utcnow()
        s.add(
            TrainingJob(
                status=JobStatus.RUNNING,
                options={"include_decisions": True},
                created_by="admin@example.org",
                created_at=now,
                started_at=now,
                heartbeat_at=now,
                worker="elsewhere:1:1",
                log="started by elsewhere:1:1\n40 labelled texts: 36 to learn from"
                " (10 spam, 26 ham); judged on 4 held-out ones\n",
            )
        )
        s.commit()
    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in_as(page, live_server, ADMIN, "/admin/")
    bar = page.get_by_role("progressbar")
    assert bar.get_attribute("max") == "5"
    assert bar.get_attribute("value") == "2"
    assert "2 of 5 steps: labels read" in page.locator("[data-role=job-stage]").inner_text()
    page.wait_for_timeout(1200)  # the page follows the job through the API: same bar
    assert page.get_by_role("progressbar").get_attribute("value") == "2"
    assert watch.fired() == []


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_revoking_a_key_asks_first_on_a_page_of_its_own(
    app, browser, live_server, creds, browser_timeout_ms, javascript
):
    ctx = browser.new_context(base_url=live_server, java_script_enabled=javascript)
    ctx.set_default_timeout(browser_timeout_ms)
    try:
        page = ctx.new_page()
        watch = Watch(page, live_server)
        sign_in_as(page, live_server, ADMIN, "/admin/sites")
        page.get_by_role("link", name="Revoke key of blog").click()
        page.wait_for_url("**/admin/sites/*/revoke")
        assert page.get_by_role("heading", level=1).inner_text() == "Revoke the key of blog?"
        page.get_by_role("link", name="Cancel").click()
        page.wait_for_url("**/admin/sites")
        with db.new_session(app) as s:
            assert s.scalar(select(Site.revoked_at).where(Site.name == "blog")) is None
        page.get_by_role("link", name="Revoke key of blog").click()
        page.get_by_role("button", name="Revoke the key of blog").click()
        page.wait_for_url("**/admin/sites")
        assert "The key of blog is revoked." in page.locator(".flash-info").inner_text()
        with db.new_session(app) as s:
            assert s.scalar(select(Site.revoked_at).where(Site.name == "blog")) is not None
            assert s.scalar(select(Site.revoked_at).where(Site.name == "other-blog")) is None
        assert page.get_by_role("link", name="Revoke key of blog").count() == 0
        assert watch.fired() == []
    finally:
        ctx.close()


def test_a_settings_error_keeps_the_input_and_names_the_field(app, context, live_server, creds):
    page = context.new_page()
    watch = Watch(page, live_server)
    sign_in_as(page, live_server, ADMIN, "/admin/settings")
    page.get_by_label("Spam threshold", exact=True).fill("0.55")
    page.get_by_label("Hold threshold", exact=True).fill("0.75")
    page.locator("#disallowed-words").fill("casino\nfree spins")
    page.get_by_role("button", name="Save").click()
    summary = page.locator("#settings-errors")
    summary.wait_for()
    text = summary.inner_text()
    assert "Hold threshold" in text
    assert "hold_threshold" not in text
    assert "Nothing was saved" in text
    assert page.get_by_label("Spam threshold", exact=True).input_value() == "0.55"
    assert page.get_by_label("Hold threshold", exact=True).input_value() == "0.75"
    assert page.locator("#disallowed-words").input_value() == "casino\nfree spins"
    assert page.get_by_label("Hold threshold", exact=True).get_attribute("aria-invalid") == "true"
    with db.new_session(app) as s:
        settings = load_settings(s)
    assert (settings.spam_threshold, settings.hold_threshold) == (0.9, 0.5)
    assert settings.disallowed_words == ()
    watch.allow("status of 422")
    assert watch.fired() == []


def test_every_setting_has_a_label_for_its_errors():
    """A settings error names its field in the form's words, for every setting there is."""
    assert set(SETTINGS_LABELS) == {field.name for field in fields(ModerationSettings)}


def test_admins_find_the_admin_pages_from_the_review_page(context, live_server, creds):
    page = context.new_page()
    sign_in_as(page, live_server, ADMIN, "/review/")
    page.get_by_role("link", name="Admin").click()
    page.wait_for_url("**/admin/")
    moderator = context.browser.new_context(base_url=live_server)
    try:
        other = moderator.new_page()
        sign_in_as(other, live_server, MOD, "/review/")
        assert other.get_by_role("link", name="Admin").count() == 0
    finally:
        moderator.close()


@pytest.mark.parametrize("path", ["/admin/", "/admin/sites", "/admin/users", "/admin/settings"])
def test_admin_pages_fit_a_phone(app, browser, live_server, creds, path):
    clf = fit_base()
    active = store_version(app, clf, active=True)
    give_metrics(app, active, {"holdout": evaluation(730, 856, 700, 20)})
    phone = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server)
    try:
        page = phone.new_page()
        sign_in_as(page, live_server, ADMIN, path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide"
    finally:
        phone.close()
