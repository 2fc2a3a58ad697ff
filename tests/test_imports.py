"""History import: CSV, JSON lines, JSON and WordPress's WXR into decided comments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from moderation import db
from moderation.imports import ImportFormat
from moderation.imports import MalformedImport
from moderation.imports import RowsInvalid
from moderation.imports import read_rows
from moderation.retraining import moderator_labels
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Status

WXR = Path(__file__).parent / "fixtures" / "wordpress-export.xml"
ROWS = [
    {
        "id": 11,
        "post_id": "budget-2027",
        "author_name": "Ruth",
        "author_email": "ruth@example.org",
        "content": "The figures in table 3 do not add up, see https://www.gao.gov/x",
        "status": "approved",
        "created_at": "2026-11-02T08:00:00Z",
    },
    {
        "id": "12",
        "post_id": "budget-2027",
        "parent_id": 11,
        "author_name": "Sam",
        "author_email": "sam@example.org",
        "content": "Agreed, the totals are off by a million.",
        "status": "approved",
    },
    {
        "id": 13,
        "post_id": "budget-2027",
        "author_name": "Payday Loans",
        "author_email": "cash@loans.example.com",
        "author_url": "https://loans.example.com",
        "content": "Fast payday loans, no credit check!",
        "status": "spam",
    },
    {
        "id": 14,
        "post_id": "budget-2027",
        "author_name": "Rude",
        "author_email": "rude@example.org",
        "content": "You are all idiots.",
        "status": "trash",
    },
]
CSV_TEXT = (
    "id,post_id,parent_id,author_name,author_email,author_url,content,status,created_at\n"
    "11,budget-2027,,Ruth,ruth@example.org,,"
    '"The figures in table 3 do not add up, see https://www.gao.gov/x",approved,'
    "2026-11-02T08:00:00Z\n"
    '12,budget-2027,11,Sam,sam@example.org,,"Agreed, the totals are off\nby a million.",'
    "approved,\n"
    "13,budget-2027,,Payday Loans,cash@loans.example.com,https://loans.example.com,"
    '"Fast payday loans, no credit check!",spam,\n'
    "14,budget-2027,,Rude,rude@example.org,,You are all idiots.,trash,\n"
)
JSONL_TEXT = "\n".join(json.dumps(row) for row in ROWS) + "\n"
BODIES = {
    "csv": ("text/csv", CSV_TEXT.encode()),
    "jsonl": ("application/x-ndjson", JSONL_TEXT.encode()),
    "json": ("application/json", json.dumps({"comments": ROWS}).encode()),
}


def _import(client, creds, body, mimetype, who="site"):
    url = "/api/v1/imports" if who == "site" else "/api/v1/admin/imports?site=blog"
    return client.post(url, data=body, content_type=mimetype, headers=creds.headers(who))


def _stored(app):
    with db.new_session(app) as s:
        rows = s.scalars(select(Comment).order_by(Comment.id)).all()
        return {c.external_id: c for c in rows}


@pytest.mark.parametrize("fmt", list(BODIES))
@pytest.mark.parametrize("who", ["site", "admin"])
def test_import_stores_decided_comments_once(app, client, creds, fmt, who):
    mimetype, body = BODIES[fmt]
    first = _import(client, creds, body, mimetype, who)
    assert first.status_code == 200, first.get_json()
    answer = first.get_json()
    assert answer["imported"] == 4
    assert answer["already_present"] == 0
    stored = _stored(app)
    assert answer["ids"] == {ext: c.id for ext, c in stored.items()}
    assert {ext: c.status for ext, c in stored.items()} == {
        "11": Status.APPROVED,
        "12": Status.APPROVED,
        "13": Status.SPAM,
        "14": Status.REJECTED,  # trash
    }
    assert stored["12"].parent_id == stored["11"].id
    assert stored["11"].created_at.isoformat() == "2026-11-02T08:00:00+00:00"
    assert 'rel="nofollow ugc"' in stored["11"].content_html
    assert stored["13"].reasons[0]["code"] == "imported"
    # The audit trail says imported, and approved/spam become retraining labels.
    with db.new_session(app) as s:
        events = s.scalars(select(AuditEvent)).all()
        assert {e.note for e in events} == {"imported"}
        assert all(e.actor.startswith("import:") for e in events)
        labels = moderator_labels(s)
    assert labels == {stored["11"].id: False, stored["12"].id: False, stored["13"].id: True}

    again = _import(client, creds, body, mimetype, who)
    assert again.status_code == 200
    assert again.get_json() == {"imported": 0, "already_present": 4, "ids": answer["ids"]}
    assert len(_stored(app)) == 4


def test_wxr_import_reads_wordpress_export(app, client, creds):
    answer = _import(client, creds, WXR.read_bytes(), "application/xml")
    assert answer.status_code == 200, answer.get_json()
    # The pingback (104) is not a reader's comment: skipped.
    assert answer.get_json()["imported"] == 5
    stored = _stored(app)
    assert set(stored) == {"101", "102", "103", "7", "8"}
    assert stored["101"].post_id == "42"
    assert stored["101"].author_ip == "203.0.113.20"
    assert "&amp; its appendix" in stored["101"].content_html
    assert stored["102"].parent_id == stored["101"].id
    assert stored["103"].status is Status.SPAM
    assert stored["103"].author_name == "Cheap Pills"
    assert stored["7"].status is Status.REJECTED  # trash
    assert stored["8"].status is Status.PENDING  # comment_approved 0
    assert stored["8"].author_ip == "2001:db8::7"
    assert stored["8"].created_at.isoformat() == "2026-10-02T06:30:00+00:00"
    again = _import(client, creds, WXR.read_bytes(), "text/xml; charset=utf-8")
    assert again.get_json()["already_present"] == 5


def test_a_later_import_links_replies_to_earlier_parents(app, client, creds):
    parent, reply = ROWS[0], ROWS[1]
    assert (
        _import(client, creds, json.dumps({"comments": [parent]}), "application/json").status_code
        == 200
    )
    answer = _import(client, creds, json.dumps({"comments": [reply]}), "application/json")
    stored = _stored(app)
    assert answer.get_json()["imported"] == 1
    assert stored["12"].parent_id == stored["11"].id


def test_imports_are_per_site(app, client, creds):
    mimetype, body = BODIES["jsonl"]
    assert _import(client, creds, body, mimetype, "site").get_json()["imported"] == 4
    other = client.post(
        "/api/v1/imports",
        data=body,
        content_type=mimetype,
        headers=creds.headers("other_site"),
    )
    assert other.get_json()["imported"] == 4  # the same site ids, another site


def test_an_imported_live_comment_makes_a_repost_a_duplicate(app, client, creds, site_api):
    _import(client, creds, *reversed(BODIES["json"]))
    repost = site_api.post(
        post_id="budget-2027",
        author_name="Ruth",
        author_email="ruth@example.org",
        content=ROWS[0]["content"],
    )
    assert repost.status_code == 409
    # The trashed (rejected) comment holds no duplicate key: it may be posted again.
    again = site_api.post(
        post_id="budget-2027",
        author_name="Rude",
        author_email="rude@example.org",
        content=ROWS[3]["content"],
    )
    assert again.status_code == 201


BAD_ROWS = [
    ({"author_email": "not-an-address"}, "author_email", "not a valid email"),
    ({"status": "deleted"}, "status", "must be one of"),
    ({"content": "   "}, "content", "must not be empty"),
    ({"content": None}, "content", "is required"),
    ({"id": None}, "id", "is required"),
    ({"id": True}, "id", "string or an integer"),
    ({"post_id": ""}, "post_id", "must not be empty"),
    ({"author_url": "javascript:alert(1)"}, "author_url", "http"),
    ({"author_ip": "999.1.1.1"}, "author_ip", "IPv4 or IPv6"),
    ({"created_at": "yesterday"}, "created_at", "ISO 8601"),
    ({"author_name": "x" * 246}, "author_name", "at most 245"),
    ({"karma": 3}, "karma", "is not a known field"),
    ({"status": {"value": "spam"}}, "status", "must be one of"),
    ({"status": 1}, "status", "must be one of"),
    ({"content": "a\x00b"}, "content", "NUL"),
    ({"content": "a\ud800b"}, "content", "unpaired surrogate"),
    ({"created_at": "9999-12-31T23:59:59-12:00"}, "created_at", "between"),
    ({"created_at": "0001-01-01T00:00:00+14:00"}, "created_at", "between"),
    ({"created_at": "9999-12-31T23:59:59Z"}, "created_at", "between"),
    ({"created_at": "0001-01-01T00:00:00Z"}, "created_at", "between"),
    ({"parent_id": 13}, "parent_id", "own id"),
]


@pytest.mark.parametrize(("override", "field", "message"), BAD_ROWS)
def test_a_bad_row_is_named_by_line_and_field_and_nothing_is_stored(
    app, client, creds, override, field, message
):
    rows = [dict(row) for row in ROWS]
    for key, value in override.items():
        if value is None:
            rows[2].pop(key)
        else:
            rows[2][key] = value
    body = "\n".join(json.dumps(row) for row in rows)
    answer = _import(client, creds, body, "application/x-ndjson")
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    errors = answer.get_json()["errors"]
    assert list(errors) == [f"line 3: {field}"]
    assert message in errors[f"line 3: {field}"][0]
    assert _stored(app) == {}
    # The same row in the JSON body is named by its index.
    answer = _import(client, creds, json.dumps({"comments": rows}), "application/json")
    assert list(answer.get_json()["errors"]) == [f"row 2: {field}"]


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        (CSV_TEXT.replace("13,budget", "11,budget"), {"line 5: id": ["repeats the id of line 2"]}),
        (CSV_TEXT.replace(",spam,", ",junk,"), {"line 5: status": []}),
        (CSV_TEXT + "15,p,,A,a@example.org\n", {"line 7": ["has 5 cells; the header has 9"]}),
        ("id,post_id,content,status,mood\n1,p,hi,approved,\n", {"line 1": []}),
        (
            "id,post_id,content,status,content\n1,p,hi,approved,ho\n",
            {"line 1": ["repeats column(s): content"]},
        ),
        (
            CSV_TEXT.replace("11,budget-2027,,Ruth", "11,budget-2027,12,Ruth"),
            {"line 2: parent_id": [], "line 3: parent_id": []},
        ),
        (
            "id,post_id,parent_id,content,status\n"
            "1,p,3,a,approved\n2,p,1,b,approved\n3,p,2,c,approved\n4,p,3,d,approved\n",
            {"line 2: parent_id": [], "line 3: parent_id": [], "line 4: parent_id": []},
        ),
    ],
)
def test_csv_rows_are_named_by_their_first_line(app, client, creds, text, errors):
    answer = _import(client, creds, text.encode(), "text/csv")
    assert answer.status_code == 422
    got = answer.get_json()["errors"]
    assert list(got) == list(errors)
    for key, messages in errors.items():
        if messages:
            assert got[key] == messages
    assert _stored(app) == {}


@pytest.mark.parametrize(
    ("mimetype", "body", "status", "detail"),
    [
        ("text/plain", b"hello", 415, "text/plain is not accepted"),
        ("application/json", b"[1, 2]", 400, "must be an object"),
        ("application/json", b"{oops", 400, "not valid JSON"),
        ("text/csv", b"\xff\xfe", 400, "not valid UTF-8"),
        ("text/csv", b"", 400, "no header row"),
        ("application/xml", b"<rss><channel>", 400, "not well-formed XML"),
        (
            "application/xml",
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
            b"<rss>&b;</rss>",
            400,
            "refused",
        ),
        (
            "application/xml",
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<rss>&x;</rss>",
            400,
            "refused",
        ),
        ("text/csv; charset=latin-1", b"id\n", 415, "UTF-8"),
        ("text/csv", "id\n1\n".encode("utf-16"), 400, "UTF-16"),
        ("application/x-ndjson", "{}\n".encode("utf-16"), 400, "UTF-16"),
        ("application/json", '{"comments": []}'.encode("utf-16"), 400, "UTF-16"),
        ("application/x-ndjson", b"", 400, "empty"),
        ("application/x-ndjson", b"\n \n", 400, "empty"),
        ("application/xml", b"<a>" * 50_000 + b"</a>" * 50_000, 400, "not <rss>"),
        (
            "application/xml",
            b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "x.dtd"><rss/>',
            400,
            "refused",
        ),
        ("multipart/form-data; boundary=x", b"--x--\r\n", 415, "multipart/form-data"),
    ],
)
def test_malformed_or_hostile_bodies_are_4xx(app, client, creds, mimetype, body, status, detail):
    answer = _import(client, creds, body, mimetype)
    assert answer.status_code == status, answer.get_json()
    assert detail in answer.get_json()["detail"]
    assert _stored(app) == {}


def test_admin_import_names_a_missing_or_unknown_site(client, creds):
    mimetype, body = BODIES["jsonl"]
    headers = creds.headers("admin")
    answer = client.post(
        "/api/v1/admin/imports?site=nope", data=body, content_type=mimetype, headers=headers
    )
    assert answer.status_code == 404
    assert "no site named 'nope'" in answer.get_json()["detail"]
    missing = client.post(
        "/api/v1/admin/imports", data=body, content_type=mimetype, headers=headers
    )
    assert missing.status_code == 422
    assert "site" in missing.get_json()["errors"]


def test_read_rows_reads_wxr_without_the_database():
    rows = read_rows(WXR.read_bytes(), ImportFormat.WXR)
    assert [(r.where, r.row.id) for r in rows] == [
        ("line 52", "101"),
        ("line 70", "102"),
        ("line 84", "103"),
        ("line 119", "7"),
        ("line 134", "8"),
    ]
    with pytest.raises(RowsInvalid) as bad:
        read_rows(WXR.read_bytes().replace(b"m.okafor@example.net", b"m.okafor@"), "wxr")
    assert list(bad.value.errors) == ["line 52: author_email"]
    with pytest.raises(MalformedImport):
        read_rows(b"<rss>", ImportFormat.WXR)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "wxr"])
def test_cli_import_does_the_same(app, runner, creds, tmp_path, fmt):
    path = tmp_path / "history.txt"
    path.write_bytes(WXR.read_bytes() if fmt == "wxr" else BODIES[fmt][1])
    args = ["comments", "import", str(path), "--site", "blog", "--format", fmt]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    expected = 5 if fmt == "wxr" else 4
    assert f"imported: {expected}" in result.output
    result = runner.invoke(args=args)
    assert "imported: 0" in result.output
    assert f"already present: {expected}" in result.output
    with db.new_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Comment)) == expected


def test_cli_import_names_bad_rows_and_stores_nothing(app, runner, creds, tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(CSV_TEXT.replace("sam@example.org", "sam@"))
    result = runner.invoke(args=["comments", "import", str(path), "--site", "blog"])
    assert result.exit_code == 1
    assert "history.csv: line 3: author_email:" in result.output
    assert "nothing imported" in result.output
    result = runner.invoke(args=["comments", "import", str(path), "--site", "nope"])
    assert result.exit_code == 1
    with db.new_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Comment)) == 0


def test_a_wxr_file_saved_again_as_utf16_reads_the_same():
    text = WXR.read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    rows = read_rows(text.encode("utf-16"), ImportFormat.WXR)
    assert [r.row.id for r in rows] == ["101", "102", "103", "7", "8"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"[1, 2, 3]", "must be an object of row fields"),
        (b"42", "must be an object of row fields"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "not valid JSON"),
    ],
)
def test_a_jsonl_line_that_is_no_row_is_named(app, client, creds, line, message):
    answer = _import(client, creds, JSONL_TEXT.encode() + line + b"\n", "application/x-ndjson")
    assert answer.status_code == 422
    errors = answer.get_json()["errors"]
    assert list(errors) == ["line 5"]
    assert message in errors["line 5"][0]
    assert _stored(app) == {}


def test_a_body_over_the_limit_is_413_naming_the_limit(app, client, creds):
    body = b"id,post_id,content,status\n" + b"1,p,x,approved\n" * (33 * 1024 * 1024 // 15)
    answer = _import(client, creds, body, "text/csv")
    assert answer.status_code == 413
    assert answer.mimetype == "application/problem+json"
    assert "32 MiB" in answer.get_json()["detail"]
    assert _stored(app) == {}


def test_an_import_past_its_time_budget_stores_nothing(app, client, creds):
    # A body can cost far more than its bytes suggest (html5lib's time on nested tags
    # grows with the square of the depth), so an import request has a time budget.
    app.config["IMPORT_SECONDS"] = 0.0
    mimetype, body = BODIES["jsonl"]
    answer = _import(client, creds, body, mimetype)
    assert answer.status_code == 413
    assert "flask comments import" in answer.get_json()["detail"]
    assert _stored(app) == {}
    with db.new_session(app) as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "id,post_id,content,status,created_at\n1,p,hi,approved,9999-12-31T23:59:59-14:00\n",
            "line 2: created_at: must be between",
        ),
        ("<root><rss/></root>", "not <rss>"),
        ("id,post_id,content,status,content\n1,p,hi,approved,ho\n", "repeats column(s)"),
    ],
)
def test_cli_import_refuses_hostile_files_cleanly(app, runner, creds, tmp_path, text, message):
    path = tmp_path / ("history.xml" if text.startswith("<") else "history.csv")
    path.write_text(text)
    result = runner.invoke(args=["comments", "import", str(path), "--site", "blog"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert message in result.output
    with db.new_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Comment)) == 0
