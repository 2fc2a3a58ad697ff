"""Akismet's protocol on the routes: answers, leniency, triggers, recheck, submissions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

import pytest
from sqlalchemy import func
from sqlalchemy import select

from moderation import db
from moderation.akismet.fields import STAND_IN_DOMAIN
from moderation.retraining.labels import decision_examples
from moderation.retraining.labels import moderator_labels
from moderation.settings import load_settings
from moderation.settings import save_settings
from moderation.tables import AkismetReport
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import FloodMark
from tests.conftest import overridden
from tests.test_classifier import import_shipped
from tests.test_rescore import SPAM_TEXT

FORM = "application/x-www-form-urlencoded"
THANKS = "Thanks for making the web a better place."


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

    def raw(self, method: str, body: bytes | str, content_type: str = FORM, **kw: Any) -> Any:
        """POST a body exactly as given."""
        return self.client.post(f"/1.1/{method}", data=body, content_type=content_type, **kw)


@pytest.fixture
def akismet(client, creds) -> Akismet:
    """Return an Akismet client using the site key of "blog"."""
    return Akismet(client, creds.site_key)


def count(app: Any, model: Any = Comment) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(model))


def set_settings(app: Any, **changes: Any) -> None:
    with db.new_session(app, write=True) as s:
        save_settings(s, changes, "test")
        s.commit()


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def assert_invalid(response: Any, help_part: str = "") -> None:
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert text(response) == "invalid"
    assert help_part in response.headers["X-akismet-debug-help"]


# --- verify-key ---


def test_verify_key_answers_valid_for_a_site_key(akismet):
    response = akismet.call("verify-key", blog="https://blog.example.org")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert text(response) == "valid"


@pytest.mark.parametrize("key", ["msk_not-a-real-key", "wrong-shape", "0123456789ab", None])
def test_verify_key_answers_invalid_for_any_other_key(akismet, key):
    response = akismet.call("verify-key", key=key, blog="https://blog.example.org")
    assert_invalid(response)


def test_verify_key_needs_the_blog(akismet):
    assert_invalid(akismet.call("verify-key"), '"blog"')


# --- comment-check ---


def test_comment_check_stores_the_comment_and_answers_false_for_ham(akismet, app):
    response = akismet.call("comment-check")
    assert response.status_code == 200
    assert text(response) == "false"
    comment_id = int(response.headers["X-akismet-guid"])
    assert response.headers["Location"] == f"/api/v1/comments/{comment_id}"
    # No classifier in the test database: held, fail closed, never published unscored.
    assert response.headers["X-Moderation-Status"] == "pending"
    assert "X-akismet-pro-tip" not in response.headers
    with db.new_session(app) as s:
        comment = s.get(Comment, comment_id)
        assert comment.post_id == "42"
        assert comment.author_email == "grace@example.org"
        assert comment.author_ip == "203.0.113.9"
        assert comment.permalink == "https://blog.example.org/hello-world/"


def test_comment_check_answers_true_for_spam(akismet, app):
    set_settings(app, disallowed_words=["casino"])
    response = akismet.call("comment-check", comment_content="Best CASINO bonus here")
    assert text(response) == "true"
    assert response.headers["X-Moderation-Status"] == "spam"


def test_a_held_comment_answers_true_when_the_admin_says_so(akismet, app):
    set_settings(app, akismet_held_is_spam=True)
    response = akismet.call("comment-check")
    assert response.headers["X-Moderation-Status"] == "pending"
    assert text(response) == "true"


def test_comment_check_names_the_post_by_permalink_without_a_post_id(akismet, app):
    response = akismet.call("comment-check", comment_post_ID=None)
    with db.new_session(app) as s:
        comment = s.get(Comment, int(response.headers["X-akismet-guid"]))
        assert comment.post_id == "https://blog.example.org/hello-world/"


@pytest.mark.parametrize(
    ("fields", "help_part"),
    [
        ({"blog": None}, '"blog"'),
        ({"blog": "  "}, '"blog"'),
        ({"user_ip": None}, '"user_ip"'),
        ({"user_ip": ""}, '"user_ip"'),
    ],
    ids=["no-blog", "blank-blog", "no-ip", "empty-ip"],
)
def test_only_blog_and_user_ip_are_required(akismet, app, fields, help_part):
    assert_invalid(akismet.call("comment-check", **fields), help_part)
    assert count(app) == 0


@pytest.mark.parametrize("key", [None, "msk_unknown", "nonsense", "0123456789ab"])
def test_comment_check_with_a_bad_key_answers_invalid(akismet, app, key):
    assert_invalid(akismet.call("comment-check", key=key))
    assert count(app) == 0


def test_comment_check_refuses_a_moderator_token_as_key(akismet, creds, app):
    assert_invalid(akismet.call("comment-check", key=creds.moderator_token))
    assert count(app) == 0


def test_errors_are_akismet_answers_whatever_the_client_accepts(client):
    response = client.post(
        "/1.1/comment-check",
        data="comment_content=x",
        content_type=FORM,
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert_invalid(response)


@pytest.mark.parametrize(
    ("fields", "stored"),
    [
        ({"comment_author_url": "example.org/me"}, {"author_url": "http://example.org/me"}),
        ({"comment_author_url": "javascript:alert(1)"}, {"author_url": None}),
        ({"referrer": "android-app://com.google.android.gm"}, {"referrer": None}),
        ({"user_agent": "U" * 2000}, {"user_agent": "U" * 500}),
        ({"comment_author_email": "ada@site.test"}, {"author_email": None}),
        ({"comment_author_email": None, "comment_author": None}, {"author_name": "Anonymous"}),
        ({"user_ip": "999.1.1.1"}, {"author_ip": None}),
        ({"user_ip": "203.0.113.5, 10.0.0.1"}, {"author_ip": "203.0.113.5"}),
        ({"comment_author": "Ada\u202eLovelace"}, {"author_name": "AdaLovelace"}),
        ({"comment_content": "x" * 70000}, {"content_raw": "x" * 65525}),
        ({"comment_post_ID": "9" * 20}, {"post_id": "9" * 20}),
    ],
    ids=[
        "url-without-scheme",
        "js-url",
        "app-referrer",
        "long-user-agent",
        "test-email",
        "contact-form-no-name-no-email",
        "bad-ip",
        "forwarded-ip-list",
        "bidi-override-in-name",
        "huge-content",
        "20-digit-post-id",
    ],
)
def test_a_field_we_cannot_use_is_ignored_or_normalised(akismet, app, fields, stored):
    response = akismet.call("comment-check", **fields)
    assert text(response) == "false", response.headers.get("X-akismet-debug-help")
    with db.new_session(app) as s:
        comment = s.get(Comment, int(response.headers["X-akismet-guid"]))
        for name, value in stored.items():
            if name == "author_email" and value is None:
                assert comment.author_email.endswith("@" + STAND_IN_DOMAIN)
            else:
                assert getattr(comment, name) == value, name


def test_stored_comments_stay_valid_for_our_own_api(akismet, client, creds):
    response = akismet.call(
        "comment-check",
        comment_author="",
        comment_author_email="not an address",
        comment_author_url="www.example.org",
        comment_content="",
    )
    comment_id = response.headers["X-akismet-guid"]
    got = client.get(f"/api/v1/comments/{comment_id}", headers=creds.headers("site"))
    assert got.status_code == 200
    assert got.get_json()["author_url"] == "http://www.example.org"


def test_two_commenters_without_email_are_neither_known_nor_flooding_each_other(akismet, app):
    first = akismet.call("comment-check", comment_author_email=None, user_ip="198.51.100.1")
    second = akismet.call(
        "comment-check",
        comment_author_email=None,
        user_ip="198.51.100.2",
        comment_content="Another reader, another comment.",
    )
    assert first.headers["X-akismet-guid"] != second.headers["X-akismet-guid"]
    with db.new_session(app) as s:
        emails = set(s.scalars(select(Comment.author_email)))
    assert len(emails) == 2


def test_the_same_comment_checked_twice_answers_the_stored_verdict(akismet, app):
    first = akismet.call("comment-check")
    again = akismet.call("comment-check")
    assert again.status_code == 200
    assert again.headers["X-akismet-guid"] == first.headers["X-akismet-guid"]
    assert count(app) == 1


def test_a_flood_answers_spam_and_stores_nothing(akismet, app):
    akismet.call("comment-check")
    response = akismet.call("comment-check", comment_content="A second comment at once.")
    assert text(response) == "true"
    assert response.headers["X-Moderation-Status"] == "flood"
    assert "X-akismet-guid" not in response.headers
    assert count(app) == 1


def test_recheck_reason_runs_the_stored_comment_through_the_pipeline_again(akismet, app):
    first = akismet.call("comment-check", comment_content=SPAM_TEXT)
    assert first.headers["X-Moderation-Status"] == "pending"  # no classifier: held
    import_shipped(app)
    plain = akismet.call("comment-check", comment_content=SPAM_TEXT)
    assert plain.headers["X-Moderation-Status"] == "pending"  # checked again: as stored
    response = akismet.call("comment-check", comment_content=SPAM_TEXT, recheck_reason="queue")
    assert response.status_code == 200
    assert response.headers["X-akismet-guid"] == first.headers["X-akismet-guid"]
    assert response.headers["X-Moderation-Status"] == "spam"
    assert text(response) == "true"
    assert count(app) == 1


def test_recheck_without_a_classifier_keeps_the_comment_held(akismet, app):
    akismet.call("comment-check")
    response = akismet.call("comment-check", recheck_reason="recheck_queue")
    assert text(response) == "false"
    assert "no classifier" in response.headers["X-akismet-debug-help"]
    assert count(app) == 1


def test_recheck_keeps_a_moderators_decision(akismet, app, client, creds):
    comment_id = int(akismet.call("comment-check").headers["X-akismet-guid"])
    client.post(f"/api/v1/comments/{comment_id}/approve", headers=creds.headers("moderator"))
    response = akismet.call("comment-check", recheck_reason="edit")
    assert response.headers["X-Moderation-Status"] == "approved"
    assert text(response) == "false"
    assert "moderator decided" in response.headers["X-akismet-debug-help"]


# --- is_test and Akismet's test triggers ---


def test_a_test_call_is_answered_and_stores_nothing(akismet, app):
    set_settings(app, disallowed_words=["casino"])
    response = akismet.call("comment-check", comment_content="CASINO", is_test="1")
    assert text(response) == "true"
    assert "X-akismet-guid" not in response.headers
    assert count(app) == 0
    assert count(app, AuditEvent) == 0
    assert count(app, FloodMark) == 0
    assert text(akismet.call("comment-check", comment_content="again")) == "false"


@pytest.mark.parametrize(
    ("fields", "answer", "discard"),
    [
        ({"comment_author": "viagra-test-123"}, "true", False),
        ({"comment_author_email": "akismet-guaranteed-spam@example.com"}, "true", False),
        ({"comment_author": "viagra-test-123", "test_discard": "1"}, "true", True),
        ({"user_role": "administrator"}, "false", False),
        ({"user_role": "administrator", "comment_content": "casino"}, "false", False),
    ],
    ids=["spam-author", "spam-email", "discard", "administrator", "administrator-casino"],
)
def test_akismets_test_triggers_answer_as_documented(akismet, app, fields, answer, discard):
    set_settings(app, disallowed_words=["casino"])
    response = akismet.call("comment-check", **fields)
    assert text(response) == answer
    assert (response.headers.get("X-akismet-pro-tip") == "discard") is discard
    assert count(app) == 0


def test_blatant_spam_gets_the_discard_pro_tip(akismet, app):
    import_shipped(app)
    set_settings(app, akismet_discard_score=0.5)
    response = akismet.call("comment-check", comment_content=SPAM_TEXT, comment_author="Bot")
    assert text(response) == "true"
    with db.new_session(app) as s:
        score = s.get(Comment, int(response.headers["X-akismet-guid"])).spam_score
    assert score >= 0.9
    assert response.headers["X-akismet-pro-tip"] == "discard"
    set_settings(app, akismet_discard_score=1.0)
    other = akismet.call(
        "comment-check",
        comment_content=SPAM_TEXT,
        comment_author="Bot",
        comment_post_ID="43",
        user_ip="198.51.100.77",
        comment_author_email="bot2@example.org",
    )
    assert text(other) == "true"
    assert "X-akismet-pro-tip" not in other.headers


# --- submit-spam / submit-ham ---


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
    assert text(response) == THANKS
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


def test_a_test_submission_changes_nothing(akismet, app):
    comment_id = int(akismet.call("comment-check").headers["X-akismet-guid"])
    response = akismet.call("submit-spam", guid=str(comment_id), is_test="true")
    assert text(response) == THANKS
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status == "pending"
        assert moderator_labels(s) == {}
    assert count(app, AkismetReport) == 0


def test_a_checked_comment_alone_is_no_label(akismet, app):
    akismet.call("comment-check")
    with db.new_session(app) as s:
        assert moderator_labels(s) == {}
        assert decision_examples(s) == []


def test_submission_by_guid_finds_the_comment(akismet, app):
    comment_id = int(akismet.call("comment-check").headers["X-akismet-guid"])
    response = akismet.call("submit-spam", guid=str(comment_id), comment_content="edited")
    assert text(response) == THANKS
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status == "spam"


@pytest.mark.parametrize(
    ("method", "spam"), [("submit-spam", True), ("submit-ham", False)], ids=["spam", "ham"]
)
@pytest.mark.parametrize("guid", [None, "999999", "abc", "9" * 20, "-1"])
def test_a_submission_about_an_unchecked_comment_becomes_a_hidden_example(
    akismet, app, client, creds, method, spam, guid
):
    fields = {"comment_content": "A text never checked here.", "guid": guid}
    response = akismet.call(method, **fields)
    assert text(response) == THANKS
    assert count(app) == 0  # no comment: not in the queue, not on a page
    queue = client.get("/api/v1/queue?status=all", headers=creds.headers("moderator")).get_json()
    assert queue["items"] == []
    with db.new_session(app) as s:
        examples = decision_examples(s)
    assert [(e.doc.content, e.spam) for e in examples] == [("A text never checked here.", spam)]


def test_a_site_cannot_submit_another_sites_comment(akismet, creds, app):
    comment_id = int(akismet.call("comment-check").headers["X-akismet-guid"])
    response = akismet.call("submit-spam", key=creds.other_site_key, guid=str(comment_id))
    assert text(response) == THANKS
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status == "pending"


# --- lenient parsing, as PHP's parse_str reads a body ---


def test_a_field_without_equals_is_empty_and_the_last_repeat_wins(akismet, app, creds):
    body = (
        f"api_key=wrong&blog=https%3A%2F%2Fb.example.org&user_ip=203.0.113.9"
        f"&comment_author=Ada&comment_author_url&comment_content=first&comment_content=last"
        f"&api_key={creds.site_key}"
    )
    response = akismet.raw("comment-check", body)
    assert text(response) == "false"
    with db.new_session(app) as s:
        comment = s.scalars(select(Comment)).one()
    assert (comment.content_raw, comment.author_url) == ("last", None)


@pytest.mark.parametrize(
    ("content_type", "extra"),
    [
        (FORM + "; charset=ISO-8859-1", ""),
        (FORM, "&blog_charset=ISO-8859-1"),
        (FORM + "; charset=windows-1252", ""),
    ],
    ids=["content-type", "blog-charset", "cp1252"],
)
def test_documented_charsets_are_decoded(akismet, app, creds, content_type, extra):
    latin = quote("Grüße aus Köln".encode("latin-1"))
    body = f"api_key={creds.site_key}&blog=b&user_ip=203.0.113.9&comment_content={latin}{extra}"
    response = akismet.raw("comment-check", body, content_type)
    assert text(response) == "false"
    with db.new_session(app) as s:
        assert s.scalars(select(Comment.content_raw)).one() == "Grüße aus Köln"


def test_bytes_that_are_not_the_declared_charset_still_decode(akismet, app, creds):
    body = f"api_key={creds.site_key}&blog=b&user_ip=203.0.113.9&comment_content=caf%E9"
    response = akismet.raw("comment-check", body, FORM + "; charset=UTF-8")
    assert text(response) == "false"
    with db.new_session(app) as s:
        assert s.scalars(select(Comment.content_raw)).one() == "café"


def test_the_key_and_fields_may_come_in_the_query_string(client, app, creds):
    response = client.post(
        f"/1.1/comment-check?api_key={creds.site_key}&blog=b&user_ip=203.0.113.9",
        data="comment_content=hello",
        content_type=FORM,
    )
    assert text(response) == "false"


def test_a_body_too_large_is_an_akismet_invalid(akismet, app, creds):
    body = f"api_key={creds.site_key}&comment_content=" + "x" * (1024 * 1024 + 10)
    assert_invalid(akismet.raw("comment-check", body))
    assert count(app) == 0


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_method_answers_on_both_versions(client, creds, version, method):
    url = f"/{version}/verify-key?key={creds.site_key}&blog=b"
    response = client.open(url, method=method)
    assert text(response) == "valid"


def test_erasing_a_commenter_erases_their_akismet_examples(akismet, app, client, creds):
    akismet.call("submit-spam", comment_author_email="Gone@Example.org")
    akismet.call("submit-spam", comment_author_email="stays@example.org")
    response = client.post(
        "/api/v1/admin/erasures",
        json={"author_email": "gone@example.org"},
        headers=creds.headers("admin"),
    )
    assert response.status_code == 200
    with db.new_session(app) as s:
        assert list(s.scalars(select(AkismetReport.author_email))) == ["stays@example.org"]


def test_the_akismet_settings_are_admin_settings(client, creds):
    headers = creds.headers("admin")
    response = client.patch(
        "/api/v1/admin/settings",
        json={"akismet_held_is_spam": True, "akismet_discard_score": 0.95},
        headers=headers,
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["akismet_held_is_spam"], body["akismet_discard_score"]) == (True, 0.95)
    for bad in ({"akismet_discard_score": 1.5}, {"akismet_held_is_spam": "yes"}):
        refused = client.patch("/api/v1/admin/settings", json=bad, headers=headers)
        assert refused.status_code == 422
        assert set(refused.get_json()["errors"]) == set(bad)


def test_the_settings_page_saves_the_akismet_settings(app, client, creds):
    from tests.test_admin_page import sign_in

    token = sign_in(client)
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="akismet_held_is_spam"' in page
    assert 'name="akismet_discard_score"' in page
    form = {
        "csrf_token": token,
        "spam_threshold": "0.9",
        "hold_threshold": "0.5",
        "max_links": "2",
        "akismet_held_is_spam": "on",
        "akismet_discard_score": "0.97",
    }
    client.post("/admin/settings", data=form)
    with db.new_session(app) as s:
        settings = load_settings(s)
    assert (settings.akismet_held_is_spam, settings.akismet_discard_score) == (True, 0.97)


def test_deactivate_and_unknown_methods_answer_as_akismet(client, creds):
    body = f"key={creds.site_key}&blog=b"
    assert text(client.post("/1.1/deactivate", data=body, content_type=FORM)) == "deactivated"
    assert text(client.post("/1.1/verify-key", data=body, content_type=FORM)) == "valid"
    assert_invalid(client.post("/1.1/verify-wpcom-key", data=body, content_type=FORM), "Unknown")
    assert_invalid(client.get("/1.2/no/such/thing"), "Unknown")
