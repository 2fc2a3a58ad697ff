"""Real Akismet clients, unchanged, against the live service: PyPI akismet, npm akismet-api,
and the bodies WordPress's Akismet plugin builds (its own code, run by php-cli).

Each client is pointed at the service the way a site owner would: python-akismet through
its http_client (a transport that sends rest.akismet.com's requests here), akismet-api
through its host option (its KEY.host names resolved by a wildcard DNS stand-in), and
WordPress through the must-use plugin of integrations/wordpress (here: the same bodies and
headers posted to the service).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import akismet as akismet_lib
import httpx
import pytest
from sqlalchemy import select

from moderation import db
from moderation.retraining.labels import decision_examples
from moderation.retraining.labels import moderator_labels
from moderation.tables import Comment
from tests.test_akismet import count
from tests.test_akismet import set_settings
from tests.test_akismet_keys import issue

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = Path(__file__).resolve().parent / "akismet_clients"
WORDPRESS = Path(os.environ.get("WORDPRESS_DIR", "/usr/share/wordpress"))
BLOG = "https://blog.example.org"
THANKS = "Thanks for making the web a better place."


@pytest.fixture
def akismet_key(client: Any, creds: Any) -> str:
    """Return a fresh Akismet key (12 hex characters) of the site "blog"."""
    return issue(client, creds)


# --- PyPI akismet (python-akismet), through its http_client argument ---


class ToService(httpx.HTTPTransport):
    """An httpx transport that sends the requests meant for rest.akismet.com to `base`."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = httpx.URL(base)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request to the service instead of Akismet."""
        request.url = request.url.copy_with(
            scheme=self.base.scheme, host=self.base.host, port=self.base.port
        )
        request.headers["Host"] = self.base.netloc.decode("ascii")
        return super().handle_request(request)


@pytest.fixture
def pypi_client(live_server: str, akismet_key: str) -> Iterator[akismet_lib.SyncClient]:
    """Return python-akismet's SyncClient, unchanged, sending its requests to the service."""
    # python-akismet 25.10's key_sites() sends no api_key: the client's default query
    # parameter carries it (every other call also sends it in its body, which wins).
    http = httpx.Client(
        transport=ToService(live_server), params={"api_key": akismet_key}, timeout=10
    )
    config = akismet_lib.Config(key=akismet_key, url=BLOG)
    with akismet_lib.SyncClient.validated_client(config=config, http_client=http) as client:
        yield client


COMMENT = {
    "comment_content": "A thoughtful post; the second example could use a source.",
    "comment_author": "Grace Hopper",
    "comment_author_email": "grace@example.org",
    "comment_author_url": "grace.example.org",
    "permalink": f"{BLOG}/hello-world/",
    "comment_type": "comment",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    "referrer": "android-app://com.google.android.gm",
    "blog_charset": "UTF-8",
    "blog_lang": "en_US",
}


def test_python_akismet_every_public_call(pypi_client, app, live_server, creds):
    client = pypi_client
    assert client.verify_key() is True
    assert client.verify_key(key=creds.site_key, url=BLOG) is True
    assert client.verify_key(key="000000000000", url=BLOG) is False

    verdict = client.comment_check(user_ip="203.0.113.9", **COMMENT)
    assert verdict is akismet_lib.CheckResponse.HAM
    again = client.comment_check(user_ip="203.0.113.9", recheck_reason="edit", **COMMENT)
    assert again is akismet_lib.CheckResponse.HAM
    assert count(app) == 1

    spam = client.comment_check(user_ip="203.0.113.10", comment_author="viagra-test-123")
    assert spam is akismet_lib.CheckResponse.SPAM
    ham = client.comment_check(user_ip="203.0.113.10", user_role="administrator", is_test=True)
    assert ham is akismet_lib.CheckResponse.HAM
    contact = client.comment_check(
        user_ip="203.0.113.11", comment_type="contact-form", comment_content="Call me back."
    )
    assert contact is akismet_lib.CheckResponse.HAM
    test_call = client.comment_check(
        user_ip="203.0.113.12", comment_content="Only a test.", is_test=True
    )
    assert test_call is akismet_lib.CheckResponse.HAM
    assert count(app) == 2  # the check, the contact form; no trigger, no test call

    assert client.submit_spam(user_ip="203.0.113.9", **COMMENT) is True
    with db.new_session(app) as s:
        checked = s.scalars(select(Comment).where(Comment.author_name == "Grace Hopper")).one()
        assert checked.status == "spam"
        assert checked.author_url == "http://grace.example.org"
        assert checked.referrer is None
        assert moderator_labels(s) == {checked.id: True}
    assert client.submit_ham(user_ip="203.0.113.9", **COMMENT) is True
    assert client.submit_spam(user_ip="203.0.113.9", is_test=True, **COMMENT) is True
    with db.new_session(app) as s:
        assert moderator_labels(s) == {checked.id: False}
    unknown = {**COMMENT, "comment_content": "Never checked here."}
    assert client.submit_spam(user_ip="203.0.113.13", **unknown) is True
    with db.new_session(app) as s:
        assert ("Never checked here.", True) in [
            (e.doc.content, e.spam) for e in decision_examples(s)
        ]
    assert count(app) == 2

    usage = client.usage_limit()
    assert usage == {
        "limit": "none",
        "usage": usage["usage"],
        "percentage": "0.00",
        "throttled": False,
    }
    assert usage["usage"] >= 2
    sites = client.key_sites()
    (month,) = [name for name in sites if name not in ("limit", "offset", "total")]
    assert sites["total"] == 1
    assert sites[month][0]["site"] == "blog"
    assert sites[month][0]["missed_spam"] >= 1
    csv = client.key_sites(result_format="csv", month=month, limit=10, offset=0)
    lines = csv.splitlines()
    assert lines[0].startswith("Active sites for ")
    assert f"during {month} (limit:10, offset: 0, total: 1)" in lines[0]
    assert lines[1] == "Site,Total API Calls,Spam,Ham,Missed Spam,False Positives,Is Revoked"
    assert lines[2].startswith("blog,")
    assert client.key_sites(url_filter="no-such-site")[month] == []


def test_python_akismet_sees_spam_and_discard(pypi_client, app):
    set_settings(app, disallowed_words=["casino"])
    verdict = pypi_client.comment_check(
        user_ip="203.0.113.30", comment_content="Best CASINO bonus", comment_author="Bot"
    )
    assert verdict is akismet_lib.CheckResponse.SPAM
    discard = pypi_client.comment_check(
        user_ip="203.0.113.31", comment_author="viagra-test-123", is_test=True
    )
    assert discard is akismet_lib.CheckResponse.SPAM


def test_python_akismet_with_a_wrong_key_raises_the_key_error(live_server, app):
    http = httpx.Client(transport=ToService(live_server), timeout=10)
    config = akismet_lib.Config(key="000000000000", url=BLOG)
    with pytest.raises(akismet_lib.APIKeyError):
        akismet_lib.SyncClient.validated_client(config=config, http_client=http)
    client = akismet_lib.SyncClient(config=config, http_client=http)
    with pytest.raises(akismet_lib.APIKeyError):
        client.comment_check(user_ip="203.0.113.9", comment_content="hello")
    with pytest.raises(akismet_lib.APIKeyError):
        client.usage_limit()
    assert count(app) == 0


class ToServiceAsync(httpx.AsyncHTTPTransport):
    """The same redirection for python-akismet's AsyncClient."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = httpx.URL(base)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request to the service instead of Akismet."""
        request.url = request.url.copy_with(
            scheme=self.base.scheme, host=self.base.host, port=self.base.port
        )
        request.headers["Host"] = self.base.netloc.decode("ascii")
        return await super().handle_async_request(request)


def test_python_akismet_async_client(live_server, app, akismet_key):
    async def calls() -> dict[str, Any]:
        http = httpx.AsyncClient(
            transport=ToServiceAsync(live_server), params={"api_key": akismet_key}, timeout=10
        )
        config = akismet_lib.Config(key=akismet_key, url=BLOG)
        client = await akismet_lib.AsyncClient.validated_client(config=config, http_client=http)
        async with client:
            return {
                "verify": await client.verify_key(),
                "check": await client.comment_check(user_ip="203.0.113.50", **COMMENT),
                "test": await client.comment_check(
                    user_ip="203.0.113.51", comment_author="viagra-test-123", is_test=True
                ),
                "ham": await client.submit_ham(user_ip="203.0.113.50", **COMMENT),
                "usage": await client.usage_limit(),
                "sites": await client.key_sites(result_format="csv"),
            }

    # In a thread of its own: a session-scoped Playwright browser keeps an event loop marked
    # running in the main thread, where asyncio.run() refuses to start another.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        out = pool.submit(asyncio.run, calls()).result(timeout=60)
    assert out["verify"] is True
    assert out["check"] is akismet_lib.CheckResponse.HAM
    assert out["test"] is akismet_lib.CheckResponse.SPAM
    assert out["ham"] is True
    assert out["usage"]["limit"] == "none"
    assert out["sites"].splitlines()[2].startswith("blog,")
    with db.new_session(app) as s:
        assert s.scalars(select(Comment.status)).one() == "approved"


# --- npm akismet-api, through its host option (the key goes in the host name) ---


def node_available() -> bool:
    return shutil.which("node") is not None and (ROOT / "node_modules" / "akismet-api").is_dir()


@pytest.fixture
def node_required() -> None:
    """Fail (never skip) without node and the locked npm client: `make test` installs both."""
    if not node_available():
        pytest.fail("node or node_modules/akismet-api missing: `make node` installs them")


@pytest.mark.usefixtures("node_required")
def test_npm_akismet_api_every_public_call(live_server, app, akismet_key):
    port = httpx.URL(live_server).port
    result = subprocess.run(
        [
            shutil.which("node") or "node",
            "--require",
            str(CLIENTS / "wildcard_dns.js"),
            str(CLIENTS / "akismet_api.js"),
            f"moderation.localhost:{port}",
            akismet_key,
            BLOG,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["verifyKey"] is True
    assert out["verifyWrongKey"] is False
    assert out["checkSpam"] is False
    assert out["checkAgain"] is False
    assert out["checkWrongKey"] == {"error": "Invalid API key"}
    assert out["testSpam"] is True
    assert out["testHam"] is False
    assert out["testCall"] is False
    assert out["honeypot"] is False
    assert out["submitSpam"] == THANKS
    assert out["submitHam"] == THANKS
    assert out["submitUnknown"] == THANKS
    assert out["callback"] is True
    with db.new_session(app) as s:
        comments = {c.content_raw: c for c in s.scalars(select(Comment))}
        assert set(comments) == {
            "An argued comment, with a source: the second example is wrong.",
            "Second.",
        }
        checked = comments["An argued comment, with a source: the second example is wrong."]
        assert checked.status == "approved"  # submit-spam, then submit-ham
        assert checked.author_url == "http://ada.example.org"
        assert moderator_labels(s) == {checked.id: False}


# --- WordPress's Akismet plugin: the bodies its own code builds ---


def php_available() -> bool:
    plugin = WORDPRESS / "wp-content" / "plugins" / "akismet" / "class.akismet.php"
    return shutil.which("php") is not None and plugin.is_file()


def wordpress_body(fields: dict[str, Any], api_key: str, charset: str = "UTF-8") -> bytes:
    """Return the body Akismet::http_post() sends for these fields (built by PHP)."""
    payload = json.dumps({"fields": fields, "api_key": api_key, "charset": charset})
    result = subprocess.run(
        [shutil.which("php") or "php", str(CLIENTS / "wordpress_body.php")],
        input=payload.encode("utf-8"),
        capture_output=True,
        timeout=30,
        check=True,
        env={**os.environ, "WORDPRESS_DIR": str(WORDPRESS)},
    )
    return result.stdout


class WordPress:
    """Post what WordPress's Akismet plugin posts, with its headers (Host rest.akismet.com)."""

    def __init__(self, base: str, key: str, charset: str = "UTF-8") -> None:
        self.base = base
        self.key = key
        self.charset = charset

    def post(self, method: str, fields: dict[str, Any], key: str | None = None) -> httpx.Response:
        """POST /1.1/<method> as Akismet::http_post() does."""
        body = wordpress_body(fields, self.key if key is None else key, self.charset)
        headers = {
            "Content-Type": f"application/x-www-form-urlencoded; charset={self.charset}",
            "Host": "rest.akismet.com",
            "User-Agent": "WordPress/6.1.1 | Akismet/5.0.2",
        }
        return httpx.post(f"{self.base}/1.1/{method}", content=body, headers=headers, timeout=10)


def visitor_comment(**overrides: Any) -> dict[str, Any]:
    """Return the fields auto_check_comment() sends for a visitor's comment, in its order."""
    fields: dict[str, Any] = {
        "comment_post_ID": 42,
        "comment_author": "Grace Hopper",
        "comment_author_email": "grace@example.org",
        "comment_author_url": "",
        "comment_content": "A thoughtful post; the second example could use a source.",
        "comment_type": "comment",
        "comment_parent": 0,
        "user_ID": 0,
        "user_ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) " + "Gecko/20100101 " * 40,
        "referrer": f"{BLOG}/hello-world/",
        "blog": BLOG,
        "blog_lang": "en_US",
        "blog_charset": "UTF-8",
        "permalink": f"{BLOG}/hello-world/",
        "akismet_comment_nonce": "passed",
        "POST_comment": "A thoughtful post; the second example could use a source.",
        "POST_comment_post_ID": "42",
        "POST_comment_parent": "0",
        "POST_ak_js": "1701234567890",
        "POST_ak_hp_textarea": "",
        "HTTP_HOST": "blog.example.org",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64)",
        "HTTP_ACCEPT": "text/html,application/xhtml+xml",
        "HTTP_REFERER": f"{BLOG}/hello-world/",
        "REMOTE_ADDR": "203.0.113.9",
        "REQUEST_URI": "/wp-comments-post.php",
        "comment_post_modified_gmt": "2026-11-01 10:00:00",
    }
    fields.update(overrides)
    return fields


def stored_row(comment_id: int, **overrides: Any) -> dict[str, Any]:
    """Return a wp_comments row as check_db_comment() and submit_*_comment() read it."""
    row: dict[str, Any] = {
        "comment_ID": str(comment_id),
        "comment_post_ID": "42",
        "comment_author": "Grace Hopper",
        "comment_author_email": "grace@example.org",
        "comment_author_url": "",
        "comment_author_IP": "203.0.113.9",
        "comment_date": "2026-11-30 12:00:00",
        "comment_date_gmt": "2026-11-30 12:00:00",
        "comment_content": "A thoughtful post; the second example could use a source.",
        "comment_karma": "0",
        "comment_approved": "0",
        "comment_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "comment_type": "comment",
        "comment_parent": "0",
        "user_id": "0",
    }
    row.update(overrides)
    return row


@pytest.fixture
def php_required() -> None:
    """Fail (never skip) without php-cli and WordPress's Akismet plugin (`make test` has both)."""
    if not php_available():
        pytest.fail(
            "php-cli or WordPress's Akismet plugin missing: `make wordpress` installs them"
        )


needs_php = pytest.mark.usefixtures("php_required")


@needs_php
def test_wordpress_builds_empty_fields_without_equals():
    body = wordpress_body(visitor_comment(), "0123456789ab")
    assert b"&comment_author_url&" in body
    assert b"&POST_ak_hp_textarea&" in body
    assert body.endswith(b"&api_key=0123456789ab")


@needs_php
def test_wordpress_plugin_bodies_check_recheck_and_report(live_server, app, akismet_key):
    wordpress = WordPress(live_server, akismet_key)
    # Settings screen: verify-key and get-subscription (key field; no api_key set yet).
    verified = wordpress.post("verify-key", {"key": akismet_key, "blog": BLOG}, key="")
    assert verified.text == "valid"
    subscription = wordpress.post("get-subscription", {"key": akismet_key, "blog": BLOG}, key="")
    assert subscription.json()["status"] == "active"
    assert wordpress.post("verify-key", {"key": "000000000000", "blog": BLOG}).text == "invalid"

    checked = wordpress.post("comment-check", visitor_comment())
    assert checked.text == "false", checked.headers.get("X-akismet-debug-help")
    comment_id = int(checked.headers["X-akismet-guid"])
    pingback = wordpress.post(
        "comment-check",
        visitor_comment(
            comment_type="pingback",
            comment_author="Another blog",
            comment_author_email="",
            comment_author_url="https://other.example.net/post/",
            comment_content="[...] a pingback excerpt [...]",
            user_ip="198.51.100.40",
        ),
    )
    assert pingback.text == "false", pingback.headers.get("X-akismet-debug-help")
    recheck = {
        **stored_row(comment_id),
        "user_ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "referrer": "",
        "blog": BLOG,
        "blog_lang": "en_US",
        "blog_charset": "UTF-8",
        "permalink": f"{BLOG}/hello-world/",
        "recheck_reason": "recheck_queue",
        "user_role": "",
    }
    rechecked = wordpress.post("comment-check", recheck)
    assert rechecked.text == "false"
    assert rechecked.headers["X-akismet-guid"] == str(comment_id)
    assert count(app) == 2

    report = {
        **stored_row(comment_id),
        "blog": BLOG,
        "blog_lang": "en_US",
        "blog_charset": "UTF-8",
        "permalink": f"{BLOG}/hello-world/",
        "reporter": "admin",
        "site_domain": None,
        "user_role": "",
        "comment_post_modified_gmt": "2026-11-01 10:00:00",
    }
    assert wordpress.post("submit-spam", report).text == THANKS
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status == "spam"
    assert wordpress.post("submit-ham", report).text == THANKS
    with db.new_session(app) as s:
        assert s.get(Comment, comment_id).status == "approved"

    for span in ("6-months", "all"):
        stats = wordpress.post("get-stats", {"blog": BLOG, "key": akismet_key, "from": span})
        body = stats.json()
        assert body["ham"] >= 1
        assert body["missed_spam"] == 1
        assert body["false_positives"] == 1
        assert body["breakdown"]


@needs_php
def test_wordpress_with_an_iso_8859_1_blog(live_server, app, akismet_key):
    wordpress = WordPress(live_server, akismet_key, charset="ISO-8859-1")
    fields = visitor_comment(
        blog_charset="ISO-8859-1",
        comment_author="Jürgen Groß",
        comment_content="Schöne Grüße aus Köln, très bien.",
    )
    checked = wordpress.post("comment-check", fields)
    assert checked.text == "false", checked.headers.get("X-akismet-debug-help")
    with db.new_session(app) as s:
        comment = s.get(Comment, int(checked.headers["X-akismet-guid"]))
        assert comment.author_name == "Jürgen Groß"
        assert comment.content_raw == "Schöne Grüße aus Köln, très bien."


@needs_php
def test_wordpress_test_mode_and_administrator(live_server, app, akismet_key):
    wordpress = WordPress(live_server, akismet_key)
    test_mode = wordpress.post("comment-check", visitor_comment(is_test="true"))
    assert test_mode.text == "false"
    admin = wordpress.post(
        "comment-check", visitor_comment(user_ID=1, user_role="administrator", user_ip="1.2.3.4")
    )
    assert admin.text == "false"
    spam = wordpress.post("comment-check", visitor_comment(comment_author="viagra-test-123"))
    assert spam.text == "true"
    assert count(app) == 0
