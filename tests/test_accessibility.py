"""axe-core scans every page, on a desktop and a phone, as a moderator and as an admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from moderation import db
from moderation.retraining.evaluation import evaluate_scores
from moderation.settings import ModerationSettings
from moderation.tables import ClassifierVersion
from moderation.tables import Comment
from moderation.tables import JobStatus
from moderation.tables import TrainingJob
from moderation.tables import utcnow
from tests.admin_support import fit_base
from tests.admin_support import store_version

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
MODERATOR = ("mod@example.org", "mod-password")
ADMIN = ("admin@example.org", "admin-password")
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + " :: " + n.failureSummary),
  }));
}"""


def arrange(app: Flask, site_api: Any, creds: Any, client: Any) -> int:
    """Store comments in every state, a classifier version with metrics and a job."""
    texts = [
        ("Grace", "Thanks! <em>Clear</em> and useful, see https://docs.example/a"),
        ("ليلى", "<p>مرحبا، مقال رائع</p><p>شكرا</p>"),
        ("Cheap Pills", "Buy pills http://pills.example/buy and http://pills.example/c"),
        ("Alan", "I disagree:\n<blockquote>machines cannot think</blockquote>"),
    ]
    ids = []
    for name, text in texts:
        response = site_api.post(author_name=name, content=text)
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    reply = site_api.post(author_name="Ada", content="Agreed!", parent_id=ids[0])
    ids.append(reply.get_json()["id"])
    headers = creds.headers("moderator")
    for comment_id, action in zip(ids[1:4], ("approve", "spam", "reject"), strict=True):
        assert (
            client.post(f"/api/v1/comments/{comment_id}/{action}", headers=headers).status_code
            == 200
        )
    with db.new_session(app, write=True) as s:
        for comment_id, score in zip(ids, (0.12, 0.4, 0.97, 0.55, 0.61), strict=True):
            comment = s.get(Comment, comment_id)
            comment.spam_score = score
            comment.classifier_version = 1
            comment.reasons = [
                {
                    "code": "hold_score",
                    "detail": f"{score:.2f} (v1)",
                    "features": [
                        {"feature": "pills", "weight": 1.3},
                        {"feature": "thanks", "weight": -0.4},
                    ],
                }
            ]
        s.commit()
    clf = fit_base()
    active = store_version(app, clf, active=True)
    candidate = store_version(app, clf, active=False, note="candidate")
    labels = [True] * 3 + [False] * 11
    held = evaluate_scores(labels, [0.9, 0.8, 0.2] + [0.1] * 10 + [0.7], ModerationSettings())
    with db.new_session(app, write=True) as s:
        s.get(ClassifierVersion, active).metrics = {"holdout": held}
        s.get(ClassifierVersion, candidate).metrics = {
            "holdout": held,
            "active_on_holdout": held,
            "compared_with": active,
            "comparison": {"n": 14, "acceptable": True, "summary": "F1 equal: not worse"},
        }
        now = utcnow()
        s.add(
            TrainingJob(
                status=JobStatus.SUCCEEDED,
                options={},
                created_by="admin@example.org",
                created_at=now,
                started_at=now,
                finished_at=now,
                version_id=candidate,
                log="started by x\nstored version 2 in 1.0 s\n",
            )
        )
        s.commit()
    return ids[0]


def scan(page: Any, where: str) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return [f"{where}: {v['id']} ({v['impact']}) {v['nodes']}" for v in page.evaluate(RUN_AXE)]


def sign_in(page: Any, base: str, who: tuple[str, str]) -> None:
    page.goto(base + "/review/login")
    page.get_by_label("Email").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/review/*")


def test_every_page_has_no_axe_violations(app, browser, live_server, site_api, creds, client):
    assert AXE.exists(), "run `make node` (axe-core from package-lock.json)"
    first = arrange(app, site_api, creds, client)
    review = [
        f"/review/?status={tab}" for tab in ("pending", "spam", "approved", "rejected", "all")
    ]
    review.append(f"/review/comments/{first}")
    admin = ["/admin/", "/admin/settings", "/admin/sites", "/admin/users", "/admin/privacy"]
    found: list[str] = []
    for name, viewport in VIEWPORTS.items():
        # bypass_csp only lets the scan inject axe; the pages are the ones users get.
        ctx = browser.new_context(viewport=viewport, base_url=live_server, bypass_csp=True)
        ctx.set_default_timeout(10_000)
        try:
            page = ctx.new_page()
            page.goto(live_server + "/review/login")
            found += scan(page, f"{name} /review/login")
            # The scan must be able to fail: an image without alt text is reported.
            page.evaluate(
                "() => { const img = document.createElement('img');"
                " img.src = '/static/review-icon.svg'; document.body.append(img); }"
            )
            assert any("image-alt" in v for v in scan(page, "probe"))
            sign_in(page, live_server, MODERATOR)
            for path in review:
                page.goto(live_server + path)
                found += scan(page, f"{name} moderator {path}")
            page.goto(live_server + "/review/")
            page.get_by_role("button", name="Keyboard shortcuts").click()
            found += scan(page, f"{name} moderator keys dialog")
            page.keyboard.press("Escape")
            page.locator(".author-panel summary").first.click()
            page.locator(".author-list li a").first.wait_for()
            page.get_by_role("button", name="Compact").click()
            found += scan(page, f"{name} moderator compact, author panel open")
            page.get_by_role("button", name="Compact").click()
            ctx.clear_cookies()
            sign_in(page, live_server, ADMIN)
            found += scan(page, f"{name} admin /review/")
            for path in admin:
                page.goto(live_server + path)
                found += scan(page, f"{name} admin {path}")
            page.goto(live_server + "/admin/settings")
            page.get_by_label("Hold threshold", exact=True).fill("0.95")
            page.get_by_role("button", name="Save").click()
            page.locator("#settings-errors").wait_for()
            found += scan(page, f"{name} admin settings error")
            page.goto(live_server + "/admin/sites")
            page.get_by_role("link", name="Revoke key of blog").click()
            page.wait_for_url("**/admin/sites/*/revoke")
            found += scan(page, f"{name} admin revoke confirmation")
            page.goto(live_server + "/admin/users")
            page.get_by_role("link", name="New token for mod@example.org").click()
            page.wait_for_url("**/admin/users/*/token")
            found += scan(page, f"{name} admin token confirmation")
        finally:
            ctx.close()
    assert found == []
