"""Role matrix: every route by {anonymous, site key, moderator, admin}, and CSRF on pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from moderation import db
from moderation.tables import Comment
from moderation.tables import Status

CALLERS = ("anonymous", "site", "moderator", "admin")
AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}

# (rule, method) -> expected status for (anonymous, site key, moderator token, admin token).
# A tuple of statuses means "any of these" (e.g. readiness may be degraded). Every route of
# app.url_map must be listed: a new route fails test_every_route_is_in_the_matrix until its
# line is added here.
EXPECTED: dict[tuple[str, str], tuple[Any, Any, Any, Any]] = {
    ("/static/<path:filename>", "GET"): (200, 200, 200, 200),
    ("/healthz", "GET"): (200, 200, 200, 200),
    ("/readyz", "GET"): ((200, 503), (200, 503), (200, 503), (200, 503)),
    ("/api/v1/openapi.json", "GET"): (200, 200, 200, 200),
    # Site API: the empty body of the matrix is invalid, so the site gets past auth to 422.
    ("/api/v1/comments", "POST"): (401, 422, 403, 403),
    ("/api/v1/comments/<int:comment_id>", "GET"): (401, 200, 200, 200),
    ("/api/v1/posts/<post_id>/comments", "GET"): (401, 200, 403, 403),
    ("/api/v1/comments/<int:comment_id>/content", "PUT"): (401, 422, 403, 403),
    ("/api/v1/exports", "POST"): (401, 422, 403, 403),
    ("/api/v1/erasures", "POST"): (401, 422, 403, 403),
    # Akismet's protocol (tests/test_akismet*.py): every answer, errors included, is a 200
    # in Akismet's words ("invalid" + X-akismet-debug-help), on 1.1 and 1.2, GET and POST.
    **{
        (f"/{version}/{name}", method): (200, 200, 200, 200)
        for version in ("1.1", "1.2")
        for name in (
            "verify-key",
            "comment-check",
            "submit-spam",
            "submit-ham",
            "usage-limit",
            "key-sites",
            "get-stats",
            "get-key-stats",
            "get-subscription",
            "deactivate",
            "<path:name>",
        )
        for method in ("GET", "POST")
    },
    # History import: the matrix's {} has no "comments" (422); the admin's lacks ?site=.
    ("/api/v1/imports", "POST"): (401, 422, 403, 403),
    ("/api/v1/admin/imports", "POST"): (401, 403, 403, 422),
    # Moderator API: personal tokens work on every endpoint.
    ("/api/v1/queue", "GET"): (401, 403, 200, 200),
    # A site decides on its own comments (the matrix's comment is the site's).
    ("/api/v1/comments/<int:comment_id>/<any(approve, reject, spam, pending):action>", "POST"): (
        401,
        200,
        200,
        200,
    ),
    ("/api/v1/decisions", "POST"): (401, 403, 200, 200),
    # Nobody has decided anything in the matrix's test: nothing to undo.
    ("/api/v1/decisions/undo", "POST"): (401, 403, 404, 404),
    ("/api/v1/comments/<int:comment_id>/history", "GET"): (401, 403, 200, 200),
    # Review pages: anonymous visitors are sent to sign in; forms need their CSRF token.
    ("/review/", "GET"): (302, 403, 200, 200),
    ("/review/comments/<int:comment_id>", "GET"): (302, 403, 200, 200),
    ("/review/login", "GET"): (200, 200, 200, 200),
    ("/review/login", "POST"): (400, 400, 400, 400),
    ("/review/logout", "POST"): (400, 400, 400, 400),
    # Admin pages: moderators are refused; the matrix's empty forms are invalid or no-ops.
    ("/admin/", "GET"): (302, 403, 403, 200),
    ("/admin/settings", "GET"): (302, 403, 403, 200),
    ("/admin/settings", "POST"): (302, 403, 403, 422),  # shown again with its errors
    ("/admin/sites", "GET"): (302, 403, 403, 200),
    ("/admin/sites", "POST"): (302, 403, 403, 422),
    # Revoking asks first: the question is a page; a POST without the answer leads to it.
    ("/admin/sites/<int:site_id>/revoke", "GET"): (302, 403, 403, 200),
    ("/admin/sites/<int:site_id>/revoke", "POST"): (302, 403, 403, 303),
    # So does replacing a secret; a first Akismet key replaces nothing and is issued at once.
    ("/admin/sites/<int:site_id>/akismet-key", "GET"): (302, 403, 403, 200),
    ("/admin/sites/<int:site_id>/akismet-key", "POST"): (302, 403, 403, 200),
    ("/admin/training-jobs", "POST"): (302, 403, 403, 302),
    ("/admin/privacy", "GET"): (302, 403, 403, 200),
    ("/admin/privacy/erase", "POST"): (302, 403, 403, 422),
    ("/admin/users", "GET"): (302, 403, 403, 200),
    ("/admin/users", "POST"): (302, 403, 403, 422),
    ("/admin/users/<int:user_id>", "POST"): (302, 403, 403, 302),
    ("/admin/users/<int:user_id>/token", "GET"): (302, 403, 403, 200),
    ("/admin/users/<int:user_id>/token", "POST"): (302, 403, 403, 303),  # it has a token
    ("/admin/versions/<int:version_id>/promote", "POST"): (302, 403, 403, 302),
    ("/admin/versions/rollback", "POST"): (302, 403, 403, 302),
    # Admin API.
    ("/api/v1/admin/erasures", "POST"): (401, 403, 403, 422),
    ("/api/v1/admin/exports", "POST"): (401, 403, 403, 422),
    ("/api/v1/admin/model-versions", "GET"): (401, 403, 403, 200),
    ("/api/v1/admin/model-versions/<int:version_id>/promote", "POST"): (401, 403, 403, 404),
    ("/api/v1/admin/model-versions/rollback", "POST"): (401, 403, 403, 409),
    ("/api/v1/admin/settings", "GET"): (401, 403, 403, 200),
    ("/api/v1/admin/settings", "PATCH"): (401, 403, 403, 200),
    ("/api/v1/admin/settings/preview", "POST"): (401, 403, 403, 200),
    ("/api/v1/admin/sites", "GET"): (401, 403, 403, 200),
    ("/api/v1/admin/sites", "POST"): (401, 403, 403, 422),
    ("/api/v1/admin/sites/<int:site_id>/revoke", "POST"): (401, 403, 403, 200),
    ("/api/v1/admin/sites/<name>/akismet-key", "POST"): (401, 403, 403, 201),
    ("/api/v1/admin/sites/<name>/akismet-key", "DELETE"): (401, 403, 403, 204),
    ("/api/v1/admin/training-jobs", "GET"): (401, 403, 403, 200),
    ("/api/v1/admin/training-jobs", "POST"): (401, 403, 403, 202),
    ("/api/v1/admin/training-jobs/<int:job_id>", "GET"): (401, 403, 403, 404),
    ("/api/v1/admin/users", "GET"): (401, 403, 403, 200),
    ("/api/v1/admin/users", "POST"): (401, 403, 403, 422),
    ("/api/v1/admin/users/<int:user_id>", "PATCH"): (401, 403, 403, 200),
    ("/api/v1/admin/users/<int:user_id>/token", "POST"): (401, 403, 403, 201),
    # Webhooks: a site manages its own endpoints, an admin any site's (issue 12).
    ("/api/v1/webhooks", "GET"): (401, 200, 403, 200),
    ("/api/v1/webhooks", "POST"): (401, 422, 403, 422),
    ("/api/v1/webhooks/<int:endpoint_id>", "GET"): (401, 404, 403, 404),
    ("/api/v1/webhooks/<int:endpoint_id>", "PATCH"): (401, 404, 403, 404),
    ("/api/v1/webhooks/<int:endpoint_id>", "DELETE"): (401, 404, 403, 404),
    ("/admin/webhooks", "GET"): (302, 403, 403, 200),
    ("/admin/webhooks/<int:endpoint_id>", "GET"): (302, 403, 403, 404),
    ("/admin/webhooks/<int:endpoint_id>/enable", "POST"): (302, 403, 403, 404),
    ("/admin/webhooks/deliveries/<int:delivery_id>/redeliver", "POST"): (302, 403, 403, 404),
    # Moderator e-mail: a link's confirmation page (the sample token is not a valid one).
    ("/review/act/<token>", "GET"): (302, 403, 400, 400),
    ("/review/act/<token>", "POST"): (302, 403, 400, 400),
    ("/review/profile", "GET"): (302, 403, 200, 200),
    ("/review/profile", "POST"): (302, 403, 422, 422),
}


def route_table(app: Flask) -> set[tuple[str, str]]:
    """Return every (rule, method) the app serves, automatic HEAD/OPTIONS aside."""
    return {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in AUTOMATIC_METHODS
    }


def test_every_route_is_in_the_matrix(app):
    served = route_table(app)
    missing = sorted(served - EXPECTED.keys())
    gone = sorted(EXPECTED.keys() - served)
    assert not missing, f"add these routes to EXPECTED in tests/test_roles.py: {missing}"
    assert not gone, f"these routes of EXPECTED are no longer served: {gone}"


def _samples(comment_id: int) -> dict[str, Any]:
    # Rows that exist in every matrix test (creds: sites 1-2, users 1-2); the classifier
    # version and job do not, so admins get past the role check to a 404.
    return {
        "comment_id": comment_id,
        "post_id": "hello-world",
        "filename": "review.css",
        "site_id": 2,
        "user_id": 1,
        "version_id": 999_999,
        "job_id": 999_999,
        "endpoint_id": 999_999,
        "delivery_id": 999_999,
        "token": "not-a-signed-token",
        "name": "blog",
    }


def build_url(rule: str, comment_id: int) -> str:
    """Fill a rule's variables with sample values (the first choice of an any())."""
    samples = _samples(comment_id)

    def fill(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "", match.group(2)
        if converter.startswith("any("):
            return converter[4:].split(",")[0].strip(" )")
        if name not in samples:
            pytest.fail(f"no sample value for <{name}> in tests/test_roles.py")
        return str(samples[name])

    return re.sub(r"<(?:([^:<>]+):)?([^<>]+)>", fill, rule)


def body_for(rule: str, comment_id: int) -> dict[str, Any]:
    """Return a JSON body that is valid for the route when the caller may use it."""
    if rule == "/api/v1/decisions":
        return {"decisions": [{"id": comment_id, "action": "spam"}]}
    return {}


def call(client: FlaskClient, method: str, url: str, body: Any, headers: dict[str, str]) -> int:
    if method == "GET":
        response = client.get(url, headers=headers)
    elif url.startswith(("/review/", "/admin/", "/1.1/", "/1.2/")):  # form-encoded
        response = client.open(url, method=method, data={}, headers=headers)
    else:
        response = client.open(url, method=method, json=body, headers=headers)
    status = response.status_code
    response.close()
    return status


@pytest.mark.parametrize(("rule", "method"), sorted(EXPECTED), ids=lambda v: str(v))
def test_role_matrix(client, creds, site_api, rule, method):
    created = site_api.post()
    assert created.status_code == 201
    comment_id = created.get_json()["id"]
    url = build_url(rule, comment_id)
    got = {}
    for caller, expected in zip(CALLERS, EXPECTED[(rule, method)], strict=True):
        headers = {} if caller == "anonymous" else creds.headers(caller)
        status = call(client, method, url, body_for(rule, comment_id), headers)
        allowed = expected if isinstance(expected, tuple) else (expected,)
        got[caller] = status if status in allowed else f"{status}, expected {expected}"
    assert all(isinstance(v, int) for v in got.values()), (method, url, got)


# --- CSRF: a browser session changes nothing without the page's token ---


def signed_in_admin(client: FlaskClient) -> str:
    """Sign in as the admin through the page; return the page's CSRF token."""
    form = client.get("/review/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post(
        "/review/login",
        data={"email": "admin@example.org", "password": "admin-password", "csrf_token": token},
    )
    assert response.status_code == 302
    page = client.get("/review/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_every_state_change_by_a_session_needs_the_csrf_token(app, client, creds, site_api):
    comment_id = site_api.post().get_json()["id"]
    signed_in_admin(client)
    state_changes = sorted((rule, method) for rule, method in route_table(app) if method != "GET")
    assert state_changes
    for rule, method in state_changes:
        url = build_url(rule, comment_id)
        if rule.startswith(("/1.1/", "/1.2/")):  # Akismet's: a session is not a key
            answer = client.post(url, data={}).get_data(as_text=True)
            assert answer == "invalid", (rule, answer)
            continue
        if rule.startswith("/api/"):
            response = client.open(url, method=method, json=body_for(rule, comment_id))
        else:
            response = client.open(url, method=method, data={})
        # 403: a site-only endpoint; everything else must be the CSRF refusal.
        assert response.status_code in (400, 403), (rule, method, response.status_code)
        if response.status_code == 400:
            text = response.get_data(as_text=True).lower()
            refusal = "expired" if rule == "/review/login" else "csrf"
            assert refusal in text, (rule, method, text[:200])
        if rule != "/review/logout":
            assert client.get("/api/v1/queue").status_code == 200, "still signed in"
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status is Status.PENDING


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-CSRFToken": "forged"}],
    ids=["no token", "wrong token"],
)
def test_decision_from_the_page_without_its_token_is_refused(
    app, client, creds, site_api, headers
):
    comment_id = site_api.post().get_json()["id"]
    signed_in_admin(client)
    response = client.post(f"/api/v1/comments/{comment_id}/approve", json={}, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["type"] == "/problems/csrf"
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status is Status.PENDING


def test_decision_from_the_page_with_its_token_is_applied(app, client, creds, site_api):
    comment_id = site_api.post().get_json()["id"]
    token = signed_in_admin(client)
    response = client.post(
        f"/api/v1/comments/{comment_id}/approve", json={}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200
    bulk = client.post(
        "/api/v1/decisions",
        json={"decisions": [{"id": comment_id, "action": "spam"}]},
        headers={"X-CSRFToken": token},
    )
    assert bulk.status_code == 200
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status is Status.SPAM


def test_reading_with_a_session_needs_no_token(client, creds):
    signed_in_admin(client)
    assert client.get("/api/v1/queue").status_code == 200
