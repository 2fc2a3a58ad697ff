"""The /admin pages: who may see them, their forms, and the whole loop in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from moderation import db
from moderation.settings import load_settings
from moderation.tables import ClassifierVersion
from moderation.tables import Comment
from moderation.tables import Site
from moderation.tables import Status
from moderation.tables import User
from tests.admin_support import add_labelled
from tests.admin_support import fit_base
from tests.admin_support import novel_spam
from tests.admin_support import site_ham
from tests.admin_support import store_version
from tests.test_classifier import READER_WITH_LINK
from tests.test_classifier import import_shipped
from tests.worker_support import Worker

ADMIN = ("admin@example.org", "admin-password")
PAGES = (
    "/admin/",
    "/admin/settings",
    "/admin/sites",
    "/admin/users",
    "/admin/privacy",
    "/admin/webhooks",
)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Queue training jobs for the worker (a test that needs it runs one)."""
    return {**app_config, "JOB_RUNNER": "queue", "JOB_HEARTBEAT_SECONDS": 0.2}


@pytest.fixture
def worker(app: Flask, tmp_path: Any) -> Any:
    """Run `flask worker` beside the served app, as `make run` does."""
    process = Worker(app, tmp_path / "worker.log").start()
    yield process
    process.stop()


def sign_in(client: FlaskClient, who: tuple[str, str] = ADMIN) -> str:
    """Sign in through the review login page; return a CSRF token for the admin forms."""
    form = client.get("/review/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post(
        "/review/login", data={"email": who[0], "password": who[1], "csrf_token": token}
    )
    assert response.status_code == 302
    page = client.get("/admin/").get_data(as_text=True) if who == ADMIN else form
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1) if page else ""


def blog_id(app: Flask) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(Site.id).where(Site.name == "blog"))


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_visitors_to_sign_in_and_refuse_moderators(client, creds, path):
    anonymous = client.get(path)
    assert anonymous.status_code == 302
    assert "/review/login" in anonymous.headers["Location"]
    sign_in(client, ("mod@example.org", "mod-password"))
    assert client.get(path, headers={"Accept": "text/html"}).status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_for_admins_with_a_strict_csp(client, creds, path):
    sign_in(client)
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "<script>" not in html
    assert " style=" not in html
    assert 'src="/static/admin.js"' in html


def test_forms_without_their_csrf_token_change_nothing(app, client, creds):
    sign_in(client)
    response = client.post("/admin/settings", data={"spam_threshold": "0.5"})
    assert response.status_code == 400
    response = client.post("/admin/sites", data={"name": "sneaky"})
    assert response.status_code == 400
    with db.new_session(app) as s:
        assert load_settings(s).spam_threshold == 0.9
        assert s.scalar(select(Site).where(Site.name == "sneaky")) is None


def test_settings_form_saves_and_refuses_crossed_thresholds(app, client, creds):
    token = sign_in(client)
    form = {
        "csrf_token": token,
        "spam_threshold": "0.8",
        "hold_threshold": "0.6",
        "max_links": "3",
        "disallowed_words": "casino\r\n\r\nviagra",
        "moderation_words": "",
        "trust_new_authors": "on",
    }
    saved = client.post("/admin/settings", data=form, follow_redirects=True)
    assert "Settings saved" in saved.get_data(as_text=True)
    with db.new_session(app) as s:
        settings = load_settings(s)
    assert settings.spam_threshold == 0.8
    assert settings.disallowed_words == ("casino", "viagra")
    assert settings.trust_new_authors is True
    assert settings.links_alone_never_spam is False  # its box was left unchecked
    crossed = client.post(
        "/admin/settings", data={**form, "hold_threshold": "0.9"}, follow_redirects=True
    )
    assert "hold_threshold" in crossed.get_data(as_text=True)
    with db.new_session(app) as s:
        assert load_settings(s).hold_threshold == 0.6


def test_site_key_is_shown_once_and_revoked(app, client, creds):
    token = sign_in(client)
    created = client.post("/admin/sites", data={"csrf_token": token, "name": "shop"})
    html = created.get_data(as_text=True)
    key = re.search(r'id="new-site-key">([^<]+)<', html).group(1)
    assert key.startswith("msk_")
    page = client.get("/admin/sites").get_data(as_text=True)
    assert key not in page
    assert 'id="intake-url">POST http://localhost/api/v1/comments<' in page
    assert 'id="akismet-url">http://localhost/<' in page
    with db.new_session(app) as s:
        site = s.scalar(select(Site).where(Site.name == "shop"))
    revoked = client.post(
        f"/admin/sites/{site.id}/revoke", data={"csrf_token": token, "confirm": "revoke"}
    )
    assert revoked.status_code == 302
    with db.new_session(app) as s:
        assert s.get(Site, site.id).revoked_at is not None


def revoked_at(app: Flask, name: str) -> Any:
    with db.new_session(app) as s:
        return s.scalar(select(Site.revoked_at).where(Site.name == name))


def test_revoking_a_key_is_confirmed_on_the_server(app, client, creds):
    token = sign_in(client)
    with db.new_session(app) as s:
        blog = s.scalar(select(Site.id).where(Site.name == "blog"))
    url = f"/admin/sites/{blog}/revoke"
    listing = client.get("/admin/sites").get_data(as_text=True)
    assert f'href="{url}"' in listing  # a link to the question, no form that revokes
    question = client.get(url)
    assert question.status_code == 200
    html = question.get_data(as_text=True)
    assert "Revoke the key of blog?" in html
    assert 'name="csrf_token"' in html
    assert 'name="confirm" value="revoke"' in html
    assert revoked_at(app, "blog") is None  # asking changes nothing
    # A POST without the confirmation only leads to the question.
    unconfirmed = client.post(url, data={"csrf_token": token})
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["Location"] == url
    assert revoked_at(app, "blog") is None
    # Without its CSRF token the confirmation is refused.
    forged = client.post(url, data={"confirm": "revoke"})
    assert forged.status_code == 400
    assert revoked_at(app, "blog") is None
    done = client.post(url, data={"csrf_token": token, "confirm": "revoke"})
    assert done.status_code == 302
    assert revoked_at(app, "blog") is not None
    assert revoked_at(app, "other-blog") is None
    again = client.get(url)  # a revoked site has nothing left to ask about
    assert again.status_code == 302
    assert again.headers["Location"] == "/admin/sites"
    assert client.get("/admin/sites/999999/revoke").status_code == 404


def test_commenter_is_erased_from_the_privacy_page_once_confirmed(app, client, creds, site_api):
    gone = site_api.post(author_email="gone@example.org").get_json()["id"]
    kept = site_api.post().get_json()["id"]
    token = sign_in(client)
    form = {"csrf_token": token, "author_email": "gone@example.org"}

    unconfirmed = client.post("/admin/privacy/erase", data=form)
    assert unconfirmed.status_code == 422
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    with db.new_session(app) as s:
        assert s.get(Comment, gone) is not None

    erased = client.post("/admin/privacy/erase", data={**form, "confirm": "on"})
    assert erased.status_code == 200
    assert "1 comment deleted" in erased.get_data(as_text=True)
    with db.new_session(app) as s:
        assert s.get(Comment, gone) is None
        assert s.get(Comment, kept) is not None


def test_users_are_created_changed_and_given_tokens(app, client, creds):
    token = sign_in(client)
    client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "email": "new@example.org",
            "password": "long-enough",
            "role": "moderator",
        },
    )
    with db.new_session(app) as s:
        user = s.scalar(select(User).where(User.email == "new@example.org"))
    assert user is not None
    client.post(
        f"/admin/users/{user.id}", data={"csrf_token": token, "role": "admin", "disabled": "on"}
    )
    with db.new_session(app) as s:
        changed = s.get(User, user.id)
    assert changed.role == "admin"
    assert changed.disabled is True
    # A first token is issued at once (the new account has none).
    client.post(f"/admin/users/{user.id}", data={"csrf_token": token, "role": "moderator"})
    first = client.post(f"/admin/users/{user.id}/token", data={"csrf_token": token})
    assert re.search(r'id="new-token">mut_', first.get_data(as_text=True))


@pytest.mark.parametrize(
    ("what", "url_of", "secret"),
    [
        ("token", lambda app: f"/admin/users/{creds_user_id(app)}/token", r'id="new-token">mut_'),
        (
            "akismet",
            lambda app: f"/admin/sites/{blog_id(app)}/akismet-key",
            r'id="new-akismet-key">',
        ),
    ],
)
def test_replacing_a_secret_is_confirmed_on_the_server(app, client, creds, what, url_of, secret):
    token = sign_in(client)
    url = url_of(app)
    if what == "akismet":  # give the site a first key: issued at once, nothing to replace
        assert re.search(
            secret, client.post(url, data={"csrf_token": token}).get_data(as_text=True)
        )
    before = secret_hashes(app)
    # The list links to the question; asking changes nothing.
    listing = client.get("/admin/users" if what == "token" else "/admin/sites")
    assert f'href="{url}"' in listing.get_data(as_text=True)
    question = client.get(url)
    assert question.status_code == 200
    html = question.get_data(as_text=True)
    assert 'name="confirm" value="replace"' in html
    assert secret_hashes(app) == before
    # A POST without the answer only leads to the question; without CSRF it is refused.
    unconfirmed = client.post(url, data={"csrf_token": token})
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["Location"] == url
    assert client.post(url, data={"confirm": "replace"}).status_code == 400
    assert secret_hashes(app) == before
    replaced = client.post(url, data={"csrf_token": token, "confirm": "replace"})
    assert re.search(secret, replaced.get_data(as_text=True))
    assert secret_hashes(app) != before


def secret_hashes(app: Flask) -> tuple[str | None, str | None]:
    """The moderator's token hash and the blog's Akismet key hash."""
    with db.new_session(app) as s:
        return (
            s.scalar(select(User.token_hash).where(User.email == "mod@example.org")),
            s.scalar(select(Site.akismet_key_hash).where(Site.name == "blog")),
        )


def creds_user_id(app: Flask) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(User.id).where(User.email == "mod@example.org"))


def test_versions_page_shows_both_versions_side_by_side(app, client, creds):
    from moderation import jobs

    store_version(app, fit_base(), active=True)
    add_labelled(app, blog_id(app), novel_spam(30), Status.SPAM, "mod@example.org")
    add_labelled(app, blog_id(app), site_ham(30), Status.APPROVED, "mod@example.org")
    token = sign_in(client)
    app.config["JOB_RUNNER"] = "none"
    client.post("/admin/training-jobs", data={"csrf_token": token, "include_decisions": "on"})
    with db.new_session(app) as s:
        from moderation.tables import TrainingJob

        job_id = s.scalar(select(TrainingJob.id))
    jobs.run_job(app, job_id)
    html = client.get("/admin/").get_data(as_text=True)
    assert 'id="candidate-version" data-version-id="2"' in html
    assert 'id="active-version" data-version-id="1"' in html
    assert html.count('<svg class="pr-curve"') >= 2
    assert html.count('class="confusion"') == 2
    assert "not worse" in html
    promoted = client.post(
        "/admin/versions/2/promote", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Version 2 is now active" in promoted.get_data(as_text=True)
    with db.new_session(app) as s:
        assert s.scalar(select(ClassifierVersion.id).where(ClassifierVersion.active)) == 2


def test_a_versions_own_spam_threshold_is_shown_on_its_card(app, client, creds):
    store_version(app, fit_base(), active=True)
    candidate = store_version(app, fit_base(), active=False, note="candidate")
    with db.new_session(app, write=True) as s:
        row = s.get(ClassifierVersion, candidate)
        # What a training job writes when the site's labels give the version a floor.
        thresholds = {"spam": 0.9, "hold": 0.5, "own_spam_floor": 0.97}
        row.manifest = {**row.manifest, "thresholds": thresholds}
        s.commit()
    sign_in(client)
    html = client.get("/admin/").get_data(as_text=True)
    card = html.split('id="candidate-version"', 1)[1].split("</article>", 1)[0]
    assert 'data-role="own-spam-floor"' in card
    assert "Its own spam threshold: <strong>0.97</strong>" in card
    assert html.count('data-role="own-spam-floor"') == 1  # the active version has none


def test_the_score_meter_marks_spam_from_the_scoring_versions_own_threshold(app, client, site_api):
    store_version(app, fit_base(), active=True)
    floored = store_version(app, fit_base(), active=False, note="retrained")
    with db.new_session(app, write=True) as s:
        row = s.get(ClassifierVersion, floored)
        row.manifest = {**row.manifest, "thresholds": {"spam": 0.9, "own_spam_floor": 0.97}}
        s.commit()
    ids = []
    for n, version in enumerate((floored, None)):
        ids.append(site_api.post(content=f"A reader's comment, number {n}").get_json()["id"])
        with db.new_session(app, write=True) as s:
            comment = s.get(Comment, ids[-1])
            comment.spam_score, comment.classifier_version = 0.93, version
            s.commit()
    sign_in(client)
    # Scored 0.93 by a version that sends to spam only from 0.97: the meter's red starts there.
    meters = [
        re.search(r'<meter class="score-bar"[^>]*>', client.get(f"/review/comments/{i}").text)
        for i in ids
    ]
    assert 'high="0.97"' in meters[0].group(0)
    assert 'high="0.9"' in meters[1].group(0)  # no version: the site's threshold
    queue = client.get("/review/?status=all").text
    assert queue.count('high="0.97"') == 1


# --- the whole loop in the browser ---


@pytest.fixture
def tab(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """Return a Chromium page and the console and page errors it records."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"pageerror {e}"))
    try:
        yield page, problems
    finally:
        context.close()


def sign_in_admin(page: Any, live_server: str) -> None:
    """Sign in as the admin through the login page."""
    page.goto(f"{live_server}/review/login")
    page.get_by_label("Email").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/review/*")


@pytest.mark.browser
def test_admin_retrains_watches_the_job_promotes_and_the_cards_show_it(
    app, tab, live_server, creds, site_api, worker
):
    base_id = store_version(app, fit_base(), active=True)
    add_labelled(app, blog_id(app), novel_spam(30), Status.SPAM, "mod@example.org")
    add_labelled(app, blog_id(app), site_ham(30), Status.APPROVED, "mod@example.org")
    page, problems = tab
    origin = live_server

    def foreign(request: Any) -> None:
        parts = urlsplit(request.url)
        if f"{parts.scheme}://{parts.netloc}" != origin:
            problems.append(f"request {request.url}")

    page.on("request", foreign)
    # Record every status the job box shows, across the page's own navigations.
    statuses: list[str] = []
    page.expose_function("__reportJobStatus", lambda status: statuses.append(status))
    page.add_init_script(
        """
        document.addEventListener("DOMContentLoaded", () => {
          const box = document.getElementById("job");
          if (!box) return;
          let last = box.dataset.jobStatus;
          if (last) window.__reportJobStatus(last);
          new MutationObserver(() => {
            const now = box.dataset.jobStatus;
            if (now && now !== last) window.__reportJobStatus((last = now));
          }).observe(box, { attributes: true });
        });
        """
    )
    sign_in_admin(page, live_server)
    page.goto(f"{live_server}/admin/")
    assert page.locator("#active-version").get_attribute("data-version-id") == str(base_id)

    statuses.clear()
    page.get_by_role("button", name="Retrain now").click()
    # The job shows as queued at once (the 202 answer), is followed by polling, and when
    # it succeeds the page moves on by itself to the candidate beside the active version.
    page.wait_for_url(re.compile(r".*/admin/\?compare=\d+$"), timeout=30_000)
    page.wait_for_load_state()
    assert statuses[0] == "queued", statuses
    assert statuses[-1] == "succeeded", statuses
    assert set(statuses) <= {"queued", "running", "succeeded"}, statuses
    candidate = page.locator("#candidate-version")
    new_id = int(candidate.get_attribute("data-version-id"))
    assert new_id != base_id
    assert "not worse" in page.locator("[data-role=verdict]").inner_text()
    assert page.locator("svg.pr-curve").count() == 2
    assert page.locator("[data-role=job-status]").text_content() == "succeeded"

    page.get_by_role("button", name=f"Promote version {new_id}").click()
    page.wait_for_load_state()
    assert f"Version {new_id} is now active" in page.locator(".flashes").inner_text()
    assert page.locator("#active-version").get_attribute("data-version-id") == str(new_id)

    # The intake scores with the promoted version; the review page's card says which.
    posted = site_api.post(content=novel_spam(1, seed=42)[0]).get_json()
    assert posted["classifier_version"] == new_id, posted
    page.goto(f"{live_server}/review/?status=all")
    card = page.locator(f"#comment-{posted['id']}")
    assert f"(v{new_id})" in card.locator(".reasons").inner_text()
    assert not problems, problems


@pytest.mark.browser
def test_admin_previews_and_turns_off_the_links_alone_rule(app, tab, live_server, site_api):
    import_shipped(app)
    held = site_api.post(content=READER_WITH_LINK).get_json()
    assert held["status"] == "pending"
    page, problems = tab
    sign_in_admin(page, live_server)
    # The moderator's card says why the comment waits instead of being spam.
    page.goto(f"{live_server}/review/comments/{held['id']}")
    assert "Spam for its links alone" in page.locator(".reasons").inner_text()

    page.goto(f"{live_server}/admin/settings")
    box = page.get_by_label("Links or length alone never send a comment to spam")
    assert box.is_checked()
    box.uncheck()
    page.get_by_role("button", name="Preview on the last 1,000 comments").click()
    row = page.locator(f'[data-role="preview-changed"] tr[data-comment-id="{held["id"]}"]')
    row.wait_for()
    cells = row.locator("td")
    assert (cells.nth(3).inner_text(), cells.nth(4).inner_text()) == ("Pending", "Spam")
    with db.new_session(app) as s:  # a preview saves nothing
        assert load_settings(s).links_alone_never_spam is True

    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "Settings saved" in page.locator(".flashes").inner_text()
    assert not page.get_by_label("Links or length alone never send a comment to spam").is_checked()
    assert not problems, problems
    with db.new_session(app) as s:
        assert load_settings(s).links_alone_never_spam is False
