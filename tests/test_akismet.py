"""Akismet's protocol: verify-key, comment-check through the intake, submit-spam/ham."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import akismet as akismet_lib
import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select

from moderation import db
from moderation.akismet import FIELDS
from moderation.retraining.labels import moderator_labels
from moderation.settings import save_settings
from moderation.tables import AuditEvent
from moderation.tables import Comment
from tests.conftest import overridden
from tests.test_bad_input import body_cases
from tests.test_bad_input import field_cases

FORM = "application/x-www-form-urlencoded"


def akismet_form(**overrides: Any) -> dict[str, str]:
    """Return what WordPress's Akismet plugin sends for a comment (a subset of it)."""
    form = {
        "blog": "https://blog.example.org",
        "user_ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "referrer": "https://blog.example.org/hello-world/",
        "permalink": "https://blog.example.org/hello-world/",
        "comment_type": "comment",
        "comment_author": "Grace Hopper",
        "comment_author_email": "grace@example.org",
        "comment_author_url": "",
        "comment_content": "A thoughtful post, thank you.",
        "comment_post_ID": "42",
        "blog_lang": "en_US",
        "blog_charset": "UTF-8",
    }
    return overridden(form, overrides)


class Akismet:
    """An Akismet client pointed at the test app (form-encoded POSTs, key in the body)."""

    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key

    def call(self, method: str, key: str | None = "", **fields: Any) -> Any:
        """POST one Akismet call; key "" means this client's key, None sends none."""
        form = akismet_form(**fields) if method != "verify-key" else dict(fields)
        if key is not None:
            form["key" if method == "verify-key" else "api_key"] = key or self.key
        return self.client.post(f"/1.1/{method}", data=urlencode(form), content_type=FORM)


@pytest.fixture
def akismet(client, creds) -> Akismet:
    """Return an Akismet client using the site key of "blog"."""
    return Akismet(client, creds.site_key)


def count(app: Any, model: Any = Comment) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(model))


def test_verify_key_answers_valid_for_a_site_key(akismet):
    response = akismet.call("verify-key", blog="https://blog.example.org")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "valid"


@pytest.mark.parametrize("key", ["msk_not-a-real-key", "wrong-shape", None])
def test_verify_key_answers_invalid_for_any_other_key(akismet, key):
    response = akismet.call("verify-key", key=key, blog="https://blog.example.org")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "invalid"
    assert response.headers["X-akismet-debug-help"]


def test_comment_check_stores_the_comment_and_answers_false_for_ham(akismet, app):
    response = akismet.call("comment-check")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "false"
    comment_id = int(response.headers["X-akismet-guid"])
    assert response.headers["Location"] == f"/api/v1/comments/{comment_id}"
    # No classifier in the test database: held, fail closed, never published unscored.
    assert response.headers["X-Moderation-Status"] == "pending"
    with db.new_session(app) as s:
        comment = s.get(Comment, comment_id)
        assert comment.post_id == "42"
        assert comment.author_email == "grace@example.org"
        assert comment.author_ip == "203.0.113.9"
        assert comment.permalink == "https://blog.example.org/hello-world/"


def test_comment_check_answers_true_for_spam(akismet, app):
    with db.new_session(app, write=True) as s:
        save_settings(s, {"disallowed_words": ["casino"]}, "test")
        s.commit()
    response = akismet.call("comment-check", comment_content="Best CASINO bonus here")
    assert response.get_data(as_text=True) == "true"
    assert response.headers["X-Moderation-Status"] == "spam"


def test_comment_check_names_the_post_by_permalink_without_a_post_id(akismet, app):
    response = akismet.call("comment-check", comment_post_ID=None)
    with db.new_session(app) as s:
        comment = s.get(Comment, int(response.headers["X-akismet-guid"]))
        assert comment.post_id == "https://blog.example.org/hello-world/"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"comment_author_email": None}, "comment_author_email"),
        ({"comment_author_email": "not an address"}, "comment_author_email"),
        ({"comment_content": "   "}, "comment_content"),
        ({"comment_author": ""}, "comment_author"),
        ({"comment_author_url": "javascript:alert(1)"}, "comment_author_url"),
        ({"user_ip": "999.1.1.1"}, "user_ip"),
        ({"comment_post_ID": None, "permalink": None, "blog": None}, "comment_post_ID"),
    ],
    ids=["no-email", "bad-email", "blank-text", "no-name", "js-url", "bad-ip", "no-post"],
)
def test_comment_check_refuses_invalid_fields_by_their_akismet_names(akismet, app, fields, named):
    response = akismet.call("comment-check", **fields)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert named in response.get_json()["errors"]
    assert count(app) == 0


@pytest.mark.parametrize(
    ("key", "status"),
    [(None, 401), ("msk_unknown", 401), ("nonsense", 401)],
    ids=["no-key", "unknown-key", "not-a-site-key"],
)
def test_comment_check_needs_a_site_key(akismet, app, key, status):
    response = akismet.call("comment-check", key=key)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert count(app) == 0


def test_comment_check_refuses_a_moderator_token_as_key(akismet, creds, app):
    response = akismet.call("comment-check", key=creds.moderator_token)
    assert response.status_code == 401
    assert count(app) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('{"api_key": "x"}', "application/json", 415),
        ("api_key=a&api_key=b", FORM, 400),
        ("comment_content=%ff", FORM, 400),
        ("a=1", FORM + "; charset=latin-1", 415),
    ],
    ids=["json", "repeated-field", "bad-utf8", "latin-1"],
)
def test_malformed_akismet_bodies_get_a_problem(client, app, body, content_type, status):
    response = client.post("/1.1/comment-check", data=body, content_type=content_type)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert count(app) == 0


@pytest.mark.parametrize("accept", ["*/*", "text/html,application/xhtml+xml,*/*;q=0.8"])
def test_errors_are_problem_json_whatever_the_client_accepts(client, accept):
    response = client.post(
        "/1.1/comment-check",
        data="comment_content=x",
        content_type=FORM,
        headers={"Accept": accept},
    )
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_comment_check_accepts_the_many_fields_wordpress_sends(akismet):
    server = {f"SERVER_HTTP_X_{i}": "x" for i in range(120)}
    response = akismet.call("comment-check", **server)
    assert response.status_code == 200


def test_a_duplicate_comment_check_is_a_409(akismet, app):
    assert akismet.call("comment-check").status_code == 200
    app.config["FLOOD_SECONDS"] = 0
    response = akismet.call("comment-check")
    assert response.status_code == 409
    assert count(app) == 1


@pytest.mark.parametrize(
    ("method", "status", "spam"),
    [("submit-spam", "spam", True), ("submit-ham", "approved", False)],
)
def test_submissions_decide_the_checked_comment_and_become_labels(
    akismet, app, method, status, spam
):
    comment_id = int(akismet.call("comment-check").headers["X-akismet-guid"])
    response = akismet.call(method)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "Thanks for making the web a better place."
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status == status
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (event.actor, event.from_status, event.to_status) == (
            "site:blog",
            "pending",
            status,
        )
        assert event.note == f"Akismet {method}"
        assert moderator_labels(s) == {comment_id: spam}


def test_a_test_call_is_answered_and_stores_nothing(akismet, app):
    with db.new_session(app, write=True) as s:
        save_settings(s, {"disallowed_words": ["casino"]}, "test")
        s.commit()
    response = akismet.call("comment-check", comment_content="CASINO", is_test="1")
    assert response.get_data(as_text=True) == "true"
    assert "X-akismet-guid" not in response.headers
    assert count(app) == 0
    assert count(app, AuditEvent) == 0
    # Not even a flood mark: the same commenter at once is no 429.
    assert akismet.call("comment-check", comment_content="again").status_code == 200


def test_a_test_submission_changes_nothing(akismet, app):
    comment_id = int(akismet.call("comment-check").headers["X-akismet-guid"])
    response = akismet.call("submit-spam", guid=str(comment_id), is_test="true")
    assert response.get_data(as_text=True) == "Thanks for making the web a better place."
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status == "pending"
        assert moderator_labels(s) == {}


def test_a_checked_comment_alone_is_no_label(akismet, app):
    akismet.call("comment-check")
    with db.new_session(app) as s:
        assert moderator_labels(s) == {}


def test_submission_by_guid_finds_the_comment(akismet, app):
    comment_id = int(akismet.call("comment-check").headers["X-akismet-guid"])
    response = akismet.call("submit-spam", guid=str(comment_id), comment_content="edited")
    assert response.status_code == 200
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status == "spam"


@pytest.mark.parametrize(
    "fields",
    [{"comment_content": "a text never checked"}, {"guid": "999999"}, {"guid": "abc"}],
    ids=["unknown-text", "unknown-guid", "bad-guid"],
)
def test_submission_of_an_unknown_comment_is_a_404(akismet, app, fields):
    akismet.call("comment-check")
    response = akismet.call("submit-spam", **fields)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    with db.new_session(app) as s:
        assert s.scalar(select(Comment.status)) == "pending"


def test_a_site_cannot_submit_another_sites_comment(akismet, creds, app):
    comment_id = int(akismet.call("comment-check").headers["X-akismet-guid"])
    response = akismet.call("submit-spam", key=creds.other_site_key, guid=str(comment_id))
    assert response.status_code == 404
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status == "pending"


# --- a real Akismet client library, unchanged, talking to this service over WSGI ---


@pytest.fixture
def akismet_client(app, creds) -> Iterator[Any]:
    """Return python-akismet's SyncClient with every request sent to the test app."""
    http = httpx.Client(transport=httpx.WSGITransport(app=app))
    config = akismet_lib.Config(key=creds.site_key, url="https://blog.example.org")
    with akismet_lib.SyncClient(config=config, http_client=http) as client:
        yield client


def test_a_real_akismet_client_verifies_checks_and_submits(akismet_client, app):
    assert akismet_client.verify_key()
    assert not akismet_client.verify_key(key="msk_wrong", url="https://blog.example.org")
    fields = {
        "comment_content": "A thoughtful post, thank you.",
        "comment_author": "Grace Hopper",
        "comment_author_email": "grace@example.org",
        "permalink": "https://blog.example.org/hello-world/",
        "comment_type": "comment",
    }
    verdict = akismet_client.comment_check(user_ip="203.0.113.9", **fields)
    assert verdict == akismet_lib.CheckResponse.HAM
    assert akismet_client.submit_spam(user_ip="203.0.113.9", **fields)
    with db.new_session(app) as s:
        comment = s.scalars(select(Comment)).one()
        assert comment.status == "spam"
        assert moderator_labels(s) == {comment.id: True}
    assert akismet_client.submit_ham(user_ip="203.0.113.9", **fields)
    with db.new_session(app) as s:
        assert moderator_labels(s) == {comment.id: False}


def test_a_real_akismet_client_sees_spam_as_spam(akismet_client, app):
    with db.new_session(app, write=True) as s:
        save_settings(s, {"disallowed_words": ["casino"]}, "test")
        s.commit()
    verdict = akismet_client.comment_check(
        user_ip="203.0.113.9",
        comment_content="Best CASINO bonus",
        comment_author="Bot",
        comment_author_email="bot@example.org",
    )
    assert verdict == akismet_lib.CheckResponse.SPAM


# --- every hostile field and body of the intake's table, through Akismet's names ---

AKISMET_NAME = {ours: theirs for theirs, ours in FIELDS.items()} | {"post_id": "comment_post_ID"}


def akismet_field_cases() -> list[Any]:
    """The intake's invalid-field cases that a form can carry, by Akismet's field names."""
    cases = []
    for case in field_cases():
        overrides, field = case.values
        (name, value), *_ = overrides.items() if overrides else [(None, None)]
        if name not in AKISMET_NAME or not (value is None or isinstance(value, str)):
            continue
        if isinstance(value, str) and value.encode("utf-8", "replace").decode() != value:
            continue  # a lone surrogate: no UTF-8 form can carry it
        if name == "post_id" and not (value or "").strip():  # falls back to permalink, blog
            overrides = {"comment_post_ID": value, "permalink": None, "blog": None}
        else:
            overrides = {AKISMET_NAME[name]: value}
        cases.append(pytest.param(overrides, AKISMET_NAME[field], id=case.id))
    return cases


@pytest.mark.parametrize(("overrides", "field"), akismet_field_cases())
def test_invalid_akismet_field_is_422_naming_it_and_nothing_is_stored(
    akismet, app, overrides, field
):
    response = akismet.call("comment-check", **overrides)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert count(app) == 0


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [case for case in body_cases() if not case.values[1].startswith("application/json")],
)
def test_malformed_akismet_body_is_a_4xx_problem_and_nothing_is_stored(
    client, creds, app, raw, content_type, status
):
    response = client.post("/1.1/comment-check", data=raw, content_type=content_type)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert count(app) == 0
