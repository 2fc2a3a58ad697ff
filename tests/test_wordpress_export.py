"""WordPress's own export (Tools -> Export: export_wp()) of a real WordPress, imported."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from moderation import db
from moderation.imports import ImportFormat
from moderation.imports import read_rows
from moderation.imports.wxr import wordpress_accepts_email
from moderation.sanitize import clean_comment_html
from moderation.tables import AuditEvent
from moderation.tables import Comment
from moderation.tables import Status
from tests.wordpress_support import WORDPRESS
from tests.wordpress_support import WordPress
from tests.wordpress_support import php_value

pytestmark = pytest.mark.wordpress

WP = "{http://wordpress.org/export/1.2/}"
HTML = (
    '<p>Read <a href="https://www.gao.gov/products/gao-24-105" title="GAO">the GAO report</a>'
    " &amp; <strong>its appendix</strong>: https://www.gao.gov/x</p>"
    '<script>alert("x")</script><img src=x onerror="alert(1)">'
)
CDATA = 'A CDATA section ends with "]]>"; so do ]]]]> and ]]>]]> -- text here, all of it.'
UNICODE = "Très bien expliqué, merci ! Größe, Ελληνικά, 日本語, and emoji 🦊🎉👍🏽 at the end."
LONG = " ".join(
    f"Point {n}: the council's figures for line {n} do not match the audit's." for n in range(400)
)[:20_000]

# What the site holds, created through WordPress's own PHP API. `status` is what
# wp_set_comment_status() is given after wp_insert_comment() (None: left approved).
POSTS = {"budget": "The budget, line by line", "withdrawn": "A post later moved to the trash"}
TRASHED_POSTS = ["withdrawn"]
# A visitor through WordPress's own comment form (wp-comments-post.php): WordPress's
# is_email() takes this address, which email-validator refuses (two dots in a row); the
# form stores the URL's "&" as "&amp;".
VISITOR = {
    "author": "John Doe",
    "email": "john..doe@example.com",
    "url": "https://blog.example.org/?p=1&ref=comments",
    "content": "Found this through the newsletter; the second table helped.",
}


def _comment(post: str, author: str, content: str, **fields: Any) -> dict[str, Any]:
    return {
        "post": post,
        "author": author,
        "email": f"{author.split()[0].lower()}@example.net",
        "url": "",
        "ip": "203.0.113.7",
        "type": "comment",
        "content": content,
        "status": None,
        "parent": None,
        **fields,
    }


COMMENTS = {
    "approved": _comment(
        "budget",
        "Ruth Okafor",
        HTML,
        url="https://ruth.example.net/notes/",
        ip="2001:db8::7",
        date="2026-11-02 08:00:00",
    ),
    "reply": _comment(
        "budget",
        "Sam Lee",
        "Agreed, the totals are off.",
        parent="approved",
        date="2026-11-02 09:30:00",
    ),
    "pending": _comment(
        "budget",
        "Nia Brown",
        "First time here: is this held?",
        status="hold",
        date="2026-11-02 10:00:00",
    ),
    "spam": _comment(
        "budget",
        "Cheap Pills",
        "Buy cheap pills at https://pills.example.com now!!!",
        url="https://pills.example.com",
        status="spam",
        date="2026-11-02 11:00:00",
    ),
    "trash": _comment(
        "budget", "Rude Person", "You are all idiots.", status="trash", date="2026-11-02 12:00:00"
    ),
    "cdata": _comment("budget", "Ada Byron", CDATA, date="2026-11-03 08:00:00"),
    "unicode": _comment("budget", "Zoë Ångström 🦊", UNICODE, date="2026-11-03 09:00:00"),
    "long": _comment("budget", "Long Writer", LONG, date="2026-11-03 10:00:00"),
    "no_email": _comment(
        "budget",
        "Anonymous",
        "No address given, still a reader.",
        email="",
        date="2026-11-03 11:00:00",
    ),
    "pingback": _comment(
        "budget",
        "Other Blog",
        "[&#8230;] as the budget post explains [&#8230;]",
        email="",
        url="https://other.example.org/2026/11/budget/",
        type="pingback",
        date="2026-11-03 12:00:00",
    ),
    "trackback": _comment(
        "budget",
        "Third Blog",
        "<strong>Budget</strong> A trackback excerpt.",
        email="",
        url="https://third.example.org/budget/",
        type="trackback",
        date="2026-11-03 13:00:00",
    ),
    # Stored by wp_insert_comment() (as importers and plugins store comments): export_wp()
    # writes this URL's "&" bare and these control characters raw, ill-formed XML both.
    "raw_url": _comment(
        "budget",
        "Shop Owner",
        "Our shop has the printed report.",
        url="https://shop.example.com/?a=1&b=2",
        date="2026-11-03 14:00:00",
    ),
    "controls": _comment(
        "budget",
        "Old Import",
        "Pasted from a PDF:\x0cpage two,\x1b[0m and\x00 more.",
        stored="Pasted from a PDF:page two,[0m and more.",
        date="2026-11-03 15:00:00",
    ),
    "on_trashed_post": _comment(
        "withdrawn",
        "Omar Haddad",
        "A comment on a post that was withdrawn.",
        date="2026-11-04 08:00:00",
    ),
}
# What the project promises (README, moderation/imports/wxr.py): trash and post-trashed
# are stored as rejected, 0 as pending; pingbacks and trackbacks are skipped; and
# WordPress's exporter itself leaves spam out of the file.
EXPECTED = {
    "sample": Status.APPROVED,  # the comment WordPress's install puts on "Hello world!"
    "approved": Status.APPROVED,
    "reply": Status.APPROVED,
    "pending": Status.PENDING,
    "trash": Status.REJECTED,
    "cdata": Status.APPROVED,
    "unicode": Status.APPROVED,
    "long": Status.APPROVED,
    "no_email": Status.APPROVED,
    "raw_url": Status.APPROVED,
    "controls": Status.APPROVED,
    "on_trashed_post": Status.REJECTED,
    "visitor": Status.PENDING,  # a first comment through the form waits (WordPress's rule)
}
WRITTEN = {  # comment_approved as WordPress writes it in the export
    "sample": "1",
    "approved": "1",
    "reply": "1",
    "pending": "0",
    "trash": "trash",
    "cdata": "1",
    "unicode": "1",
    "long": "1",
    "no_email": "1",
    "raw_url": "1",
    "controls": "1",
    "visitor": "0",
    "pingback": "1",
    "trackback": "1",
    "on_trashed_post": "post-trashed",
}
# Addresses whose fate WordPress's is_email() decides (wordpress_accepts_email copies it).
EMAILS = [
    "ruth@example.net",
    "john..doe@example.com",
    ".lead@example.com",
    "trail.@example.com",
    "a&b'c+d@example.co.uk",
    "m.okafor@",
    "@example.com",
    "a@b.c",
    "x@y",
    "no-at-sign.example.com",
    "user@exa_mple.com",
    "user@-example.com",
    "user@example..com",
    "user@.example.com",
    "user@example.com.",
    "user name@example.com",
    "user@ex ample.com",
    "Zoë@example.com",
    "user@bücher.example",
    "user@example.com@other.com",
    "u@1.2",
]

SCRIPT = """
$spec = json_decode( file_get_contents( %(spec)s ), true );
wp_set_current_user( 1 );
$posts = array();
foreach ( $spec['posts'] as $key => $title ) {
    $id = wp_insert_post(
        wp_slash( array(
            'post_title'   => $title,
            'post_content' => 'The text of ' . $title,
            'post_status'  => 'publish',
            'post_author'  => 1,
        ) ),
        true
    );
    if ( is_wp_error( $id ) ) { fwrite( STDERR, $id->get_error_message() ); exit( 1 ); }
    $posts[ $key ] = $id;
}
$sample = get_comments( array( 'orderby' => 'comment_ID', 'order' => 'ASC', 'number' => 1 ) );
$posts['hello'] = (int) $sample[0]->comment_post_ID;
$comments = array( 'sample' => (int) $sample[0]->comment_ID );
foreach ( $spec['comments'] as $key => $c ) {
    $id = wp_insert_comment( wp_slash( array(
        'comment_post_ID'      => $posts[ $c['post'] ],
        'comment_author'       => $c['author'],
        'comment_author_email' => $c['email'],
        'comment_author_url'   => $c['url'],
        'comment_author_IP'    => $c['ip'],
        'comment_agent'        => 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
        'comment_content'      => $c['content'],
        'comment_type'         => $c['type'],
        'comment_parent'       => $c['parent'] ? $comments[ $c['parent'] ] : 0,
        'comment_date'         => $c['date'],
        'comment_date_gmt'     => $c['date'],
        'comment_approved'     => 1,
    ) ) );
    if ( ! $id ) { fwrite( STDERR, "wp_insert_comment($key): " . $wpdb->last_error ); exit( 1 ); }
    if ( $c['status'] && ! wp_set_comment_status( $id, $c['status'] ) ) {
        fwrite( STDERR, "wp_set_comment_status($key)" ); exit( 1 );
    }
    $comments[ $key ] = $id;
}
foreach ( $spec['trashed_posts'] as $key ) {
    if ( ! wp_trash_post( $posts[ $key ] ) ) {
        fwrite( STDERR, "wp_trash_post($key)" ); exit( 1 );
    }
}
// Tools -> Export, "All content": export.php calls export_wp() and the browser saves
// what it prints (the headers it sends are no-ops under php-cli).
require_once ABSPATH . 'wp-admin/includes/export.php';
ob_start();
export_wp( array( 'content' => 'all' ) );
file_put_contents( %(out)s, ob_get_clean() );
$is_email = array();
foreach ( $spec['emails'] as $address ) {
    $is_email[] = false !== is_email( $address );
}
echo wp_json_encode(
    array( 'posts' => $posts, 'comments' => $comments, 'is_email' => $is_email )
);
"""


@dataclass(frozen=True)
class Export:
    """The file WordPress wrote, and WordPress's ids of the posts and comments."""

    path: Path
    posts: dict[str, str]
    comments: dict[str, str]
    is_email: list[bool]


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Export:
    """Install a real WordPress, fill it through its PHP API, and export it with export_wp()."""
    if not (WORDPRESS / "wp-admin" / "includes" / "export.php").exists() or not shutil.which(
        "php"
    ):
        pytest.fail("WordPress and PHP are missing: `make wordpress` installs them")
    folder = tmp_path_factory.mktemp("wordpress-export")
    spec = folder / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "posts": POSTS,
                "comments": COMMENTS,
                "trashed_posts": TRASHED_POSTS,
                "emails": EMAILS,
            }
        )
    )
    out = folder / "export.xml"
    wp = WordPress(folder, service_url="")
    try:
        wp.build()
        wp.start()
        wp.install()
        visitor = wp.comment_id_of(wp.post_comment(**VISITOR))
        printed = wp.php(SCRIPT % {"spec": php_value(str(spec)), "out": php_value(str(out))})
    finally:
        wp.close()
    ids = json.loads(printed)
    return Export(
        out,
        {k: str(v) for k, v in ids["posts"].items()},
        {k: str(v) for k, v in ids["comments"].items()} | {"visitor": str(visitor)},
        ids["is_email"],
    )


def _written(raw: bytes) -> dict[str, dict[str, str]]:
    """Return each exported comment's wp: fields, by WordPress's comment id."""
    found = {}
    for item in ElementTree.fromstring(raw).iter("item"):
        for comment in item.iter(f"{WP}comment"):
            fields = {child.tag.removeprefix(WP): child.text or "" for child in comment}
            fields["post_id"] = item.findtext(f"{WP}post_id")
            fields["post_status"] = item.findtext(f"{WP}status")
            found[fields["comment_id"]] = fields
    return found


def test_the_file_is_wordpress_own_export(export):
    raw = export.path.read_bytes()
    assert b"generator>https://wordpress.org/?v=6." in raw
    # As written, the file is not well-formed XML: a bare "&" and raw control characters.
    assert b"<wp:comment_author_url>https://shop.example.com/?a=1&b=2<" in raw
    assert b"<![CDATA[Pasted from a PDF:\x0cpage two,\x1b[0m and\x00 more.]]>" in raw
    with pytest.raises(ElementTree.ParseError):
        ElementTree.fromstring(raw)
    mended = raw.replace(b"?a=1&b=2", b"?a=1&amp;b=2")
    for control in (b"\x00", b"\x0c", b"\x1b"):
        mended = mended.replace(control, b"")
    written = _written(mended)
    by_key = {key: written.get(wp_id) for key, wp_id in export.comments.items()}
    # WordPress's exporter leaves spam out of the file (comment_approved <> 'spam').
    assert by_key.pop("spam") is None
    assert {key: fields["comment_approved"] for key, fields in by_key.items()} == WRITTEN
    assert by_key["pingback"]["comment_type"] == "pingback"
    assert by_key["trackback"]["comment_type"] == "trackback"
    assert by_key["on_trashed_post"]["post_status"] == "trash"
    assert by_key["reply"]["comment_parent"] == export.comments["approved"]
    # wxr_cdata() splits the "]]>" of a text over two CDATA sections.
    assert b"]]]]><![CDATA[>" in raw
    assert by_key["cdata"]["comment_content"] == CDATA
    assert by_key["long"]["comment_content"] == LONG
    assert by_key["unicode"]["comment_content"] == UNICODE
    assert by_key["visitor"]["comment_author_email"] == VISITOR["email"]
    assert by_key["visitor"]["comment_author_url"] == VISITOR["url"]  # "&amp;" in the file


def _import_api(client, creds, export: Export, who: str) -> Any:
    url = "/api/v1/imports" if who == "site" else "/api/v1/admin/imports?site=blog"
    return client.post(
        url,
        data=export.path.read_bytes(),
        content_type="application/xml",
        headers=creds.headers(who),
    )


def _import_cli(runner, export: Export) -> Any:
    args = ["comments", "import", str(export.path), "--site", "blog", "--format", "wxr"]
    return runner.invoke(args=args)


def _count(app: Flask) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(Comment))


def check_stored(app: Flask, export: Export) -> dict[str, int]:
    """Check every comment the service holds against what WordPress held; return the ids."""
    with db.new_session(app) as s:
        stored = {c.external_id: c for c in s.scalars(select(Comment))}
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    by_key = {key: stored.get(wp_id) for key, wp_id in export.comments.items()}
    # Spam never reached the file; pingbacks and trackbacks are skipped (README).
    assert {key for key, c in by_key.items() if c is None} == {"spam", "pingback", "trackback"}
    assert len(stored) == len(EXPECTED)
    assert {key: by_key[key].status for key in EXPECTED} == EXPECTED
    assert by_key["sample"].post_id == export.posts["hello"]
    for key, expected in EXPECTED.items():
        if key not in COMMENTS:
            continue
        comment, source = by_key[key], COMMENTS[key]
        content = source.get("stored", source["content"])
        assert comment.post_id == export.posts[source["post"]], key
        assert comment.content_raw == content, key
        assert comment.content_html == clean_comment_html(content).html, key
        assert comment.author_name == source["author"], key
        assert comment.author_email == source["email"], key
        assert (comment.author_url or "") == source["url"], key
        assert comment.author_ip == source["ip"], key
        assert comment.created_at == datetime.fromisoformat(source["date"] + "+00:00"), key
        assert comment.reasons[0]["code"] == "imported", key
        assert [
            (e.note, e.from_status, e.to_status) for e in events if e.comment_id == comment.id
        ] == [("imported", None, expected)], key
    assert all(e.actor.startswith("import:") for e in events)
    assert len(events) == len(EXPECTED)
    assert [e.to_status for e in events if e.comment_id == by_key["sample"].id] == [
        Status.APPROVED
    ]
    assert by_key["reply"].parent_id == by_key["approved"].id
    assert {c.parent_id for key, c in by_key.items() if c and key != "reply"} == {None}
    # The content survived as sanitized HTML: no script, links marked, text whole.
    approved = by_key["approved"].content_html
    assert "<script" not in approved  # escaped as text
    assert "<img" not in approved
    assert 'rel="nofollow ugc"' in approved
    assert "<strong>its appendix</strong>" in approved
    assert by_key["cdata"].content_html == (
        'A CDATA section ends with "]]&gt;"; so do ]]]]&gt; and ]]&gt;]]&gt;'
        " -- text here, all of it."
    )
    assert "🦊🎉👍🏽" in by_key["unicode"].content_html
    assert by_key["unicode"].author_name == "Zoë Ångström 🦊"
    assert len(by_key["long"].content_raw) == 20_000
    assert by_key["long"].content_html.endswith(LONG[-40:])
    assert by_key["no_email"].author_email == ""
    assert by_key["raw_url"].author_url == "https://shop.example.com/?a=1&b=2"
    # The visitor's comment, with the address kept as WordPress holds it.
    visitor = by_key["visitor"]
    assert (visitor.author_name, visitor.author_email, visitor.author_url) == (
        VISITOR["author"],
        VISITOR["email"],
        VISITOR["url"],
    )
    assert visitor.content_raw == VISITOR["content"]
    assert visitor.author_ip == "127.0.0.1"
    assert visitor.post_id == export.posts["hello"]
    return {key: c.id for key, c in by_key.items() if c is not None}


def test_the_cli_imports_the_export_once(app, runner, creds, export):
    first = _import_cli(runner, export)
    assert first.exit_code == 0, first.output
    assert f"imported: {len(EXPECTED)}" in first.output
    ids = check_stored(app, export)
    again = _import_cli(runner, export)
    assert again.exit_code == 0, again.output
    assert "imported: 0" in again.output
    assert f"already present: {len(EXPECTED)}" in again.output
    assert _count(app) == len(EXPECTED)
    assert check_stored(app, export) == ids


@pytest.mark.parametrize("who", ["site", "admin"])
def test_the_api_imports_the_export_once(app, client, creds, export, who):
    first = _import_api(client, creds, export, who)
    assert first.status_code == 200, first.get_json()
    answer = first.get_json()
    assert answer["imported"] == len(EXPECTED)
    assert answer["already_present"] == 0
    ids = check_stored(app, export)
    assert answer["ids"] == {export.comments[key]: cid for key, cid in ids.items()}
    again = _import_api(client, creds, export, who)
    assert again.get_json() == {
        "imported": 0,
        "already_present": len(EXPECTED),
        "ids": answer["ids"],
    }
    assert _count(app) == len(EXPECTED)


def test_the_api_after_the_cli_adds_nothing(app, runner, client, creds, export):
    assert _import_cli(runner, export).exit_code == 0
    again = _import_api(client, creds, export, "site")
    assert again.get_json()["imported"] == 0
    assert again.get_json()["already_present"] == len(EXPECTED)
    assert _count(app) == len(EXPECTED)


def test_rows_are_named_by_their_line_in_the_export(export):
    rows = read_rows(export.path.read_bytes(), ImportFormat.WXR)
    lines = export.path.read_bytes().split(b"\n")  # str.splitlines() also splits at \x0c
    for located in rows:
        number = int(located.where.removeprefix("line "))
        assert lines[number - 1].strip() == b"<wp:comment>", located.where
    assert {r.row.id for r in rows} == {export.comments[key] for key in EXPECTED}


def test_addresses_are_judged_as_wordpress_is_email_judges_them(export):
    assert dict(zip(EMAILS, map(wordpress_accepts_email, EMAILS), strict=True)) == dict(
        zip(EMAILS, export.is_email, strict=True)
    )
