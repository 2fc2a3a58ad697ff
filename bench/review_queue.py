"""Benchmark the review queue with 1,000,000 comments (PostgreSQL or SQLite); print the figures.

    createdb -h 127.0.0.1 -U postgres bench_queue
    .venv/bin/python bench/review_queue.py [--url postgresql+psycopg://...] [--rows N] [--reload]
    .venv/bin/python bench/review_queue.py --url sqlite:////tmp/bench_queue.sqlite

Uses its own database (never `test`): the schema is migrated, then filled once with
INSERT ... SELECT generate_series and kept for later runs unless --reload is given.
Requests go through the real WSGI stack in process (Flask test client), so the figures
include routing, auth, the queries and JSON or HTML rendering, but no network.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script, bench/ is sys.path[0], and this file would shadow the standard
# library's `queue` (psycopg imports it): put the project root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import func  # noqa: E402
from sqlalchemy import inspect  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy import text  # noqa: E402

from moderation import create_app  # noqa: E402
from moderation import db  # noqa: E402
from moderation.accounts import create_site  # noqa: E402
from moderation.accounts import create_user  # noqa: E402
from moderation.accounts import issue_token  # noqa: E402
from moderation.queue import QueueFilter  # noqa: E402
from moderation.queue import count_by_status  # noqa: E402
from moderation.tables import Comment  # noqa: E402
from moderation.tables import Role  # noqa: E402
from moderation.tables import Status  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_queue"
MODERATOR = ("bench-mod@example.org", "bench-password")
GOAL_API_MS = 50.0
GOAL_PAGE_MS = 150.0

# Statuses by i % 20: 1 pending, 6 spam, 1 rejected, 12 approved (5/30/5/60 %). One
# comment in ten answers the one before it; 30 s apart, so 1M comments span ~1 year.
FILL = """
INSERT INTO comments (
    id, site_id, post_id, parent_id, author_name, author_email, author_url, author_ip,
    user_agent, referrer, permalink, content_raw, content_html, status, spam_score,
    reasons, classifier_version, dedupe_key, version, created_at, updated_at)
SELECT
    i,
    CASE WHEN i % 7 = 0 THEN :site_b ELSE :site_a END,
    'post-' || (i % 5000),
    CASE WHEN i % 10 = 3 THEN i - 1 END,
    'Reader ' || (i % 50000),
    'reader' || (i % 50000) || '@example.org',
    CASE WHEN i % 4 = 0 THEN 'https://example.net/~' || (i % 50000) END,
    '198.51.' || (i % 250) || '.' || (i % 200 + 1),
    'Mozilla/5.0 (X11; Linux x86_64) bench',
    NULL,
    'https://blog.example/posts/' || (i % 5000),
    'Comment ' || i || ': thanks for the write-up, it was clear and useful. I tried the'
        || ' second approach on my own project and it worked after a small change.',
    '<p>Comment ' || i || ': thanks for the write-up, it was <em>clear</em> and useful.'
        || ' I tried the second approach on my own project and it worked.</p>',
    s.status,
    ((i::bigint * 7919) % 1000) / 1000.0,
    ('[{"code": "hold_score", "detail": "0.61 >= 0.50 (v1)", "features": [{"feature":'
        || ' "thanks", "weight": -0.31}, {"feature": "project", "weight": 0.12}]}'
        || CASE WHEN i % 97 = 0
            THEN ', {"code": "too_many_links", "detail": "2 links"}' ELSE '' END
        || ']')::json,
    1,
    CASE WHEN s.status <> 'rejected' THEN md5(i::text) END,
    1,
    now() - make_interval(secs => (:rows - i) * 30.0),
    now() - make_interval(secs => (:rows - i) * 30.0)
FROM generate_series(1, :rows) AS i
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN i % 20 = 0 THEN 'pending'
        WHEN i % 20 BETWEEN 1 AND 6 THEN 'spam'
        WHEN i % 20 = 7 THEN 'rejected'
        ELSE 'approved'
    END AS status
) AS s
"""

# The same rows on SQLite (a recursive CTE for generate_series; times as UTCDateTime
# stores them; a unique dedupe key without md5).
FILL_SQLITE = """
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :rows)
INSERT INTO comments (
    id, site_id, post_id, parent_id, author_name, author_email, author_url, author_ip,
    user_agent, referrer, permalink, content_raw, content_html, status, spam_score,
    reasons, classifier_version, dedupe_key, version, created_at, updated_at)
SELECT
    i,
    CASE WHEN i % 7 = 0 THEN :site_b ELSE :site_a END,
    'post-' || (i % 5000),
    CASE WHEN i % 10 = 3 THEN i - 1 END,
    'Reader ' || (i % 50000),
    'reader' || (i % 50000) || '@example.org',
    CASE WHEN i % 4 = 0 THEN 'https://example.net/~' || (i % 50000) END,
    '198.51.' || (i % 250) || '.' || (i % 200 + 1),
    'Mozilla/5.0 (X11; Linux x86_64) bench',
    NULL,
    'https://blog.example/posts/' || (i % 5000),
    'Comment ' || i || ': thanks for the write-up, it was clear and useful. I tried the'
        || ' second approach on my own project and it worked after a small change.',
    '<p>Comment ' || i || ': thanks for the write-up, it was <em>clear</em> and useful.'
        || ' I tried the second approach on my own project and it worked.</p>',
    status,
    ((i * 7919) % 1000) / 1000.0,
    '[{"code": "hold_score", "detail": "0.61 >= 0.50 (v1)", "features": [{"feature":'
        || ' "thanks", "weight": -0.31}, {"feature": "project", "weight": 0.12}]}'
        || CASE WHEN i % 97 = 0
            THEN ', {"code": "too_many_links", "detail": "2 links"}' ELSE '' END
        || ']',
    1,
    CASE WHEN status <> 'rejected' THEN printf('%064d', i) END,
    1,
    strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || ((:rows - i) * 30) || ' seconds') || '.000000',
    strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || ((:rows - i) * 30) || ' seconds') || '.000000'
FROM (
    SELECT i, CASE
        WHEN i % 20 = 0 THEN 'pending'
        WHEN i % 20 BETWEEN 1 AND 6 THEN 'spam'
        WHEN i % 20 = 7 THEN 'rejected'
        ELSE 'approved'
    END AS status
    FROM seq
)
"""

# The reason filter's rows (moderation.reason_rows keeps them for the ORM and the intake;
# this raw INSERT bypasses both, so it writes them as migration 0017 fills them).
FILL_REASONS = """
INSERT INTO comment_reasons (comment_id, code, status, created_at, score)
SELECT DISTINCT c.id, r.value ->> 'code', c.status, c.created_at, coalesce(c.spam_score, -1.0)
FROM comments AS c CROSS JOIN LATERAL json_array_elements(c.reasons) AS r(value)
"""
FILL_REASONS_SQLITE = """
INSERT INTO comment_reasons (comment_id, code, status, created_at, score)
SELECT DISTINCT c.id, json_extract(r.value, '$.code'), c.status, c.created_at,
    coalesce(c.spam_score, -1.0)
FROM comments AS c, json_each(c.reasons) AS r
"""


def percentile(samples: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of samples, nearest rank."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def measure(run: Callable[[], Any], repeat: int, warmup: int = 5) -> list[float]:
    """Call run() warmup + repeat times; return the repeat timings in milliseconds."""
    for _ in range(warmup):
        run()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def report(label: str, timings: list[float], goal: float | None) -> bool:
    """Print one line of figures; return whether p95 meets the goal."""
    p95 = percentile(timings, 95)
    ok = goal is None or p95 <= goal
    verdict = "" if goal is None else (f"  goal ≤ {goal:.0f} ms: " + ("ok" if ok else "MISSED"))
    print(
        f"{label:<46} p50 {statistics.median(timings):7.2f} ms   p95 {p95:7.2f} ms"
        f"   max {max(timings):7.2f} ms   (n={len(timings)}){verdict}"
    )
    return ok


def fill(app: Any, rows: int) -> None:
    """Migrate an empty schema and insert `rows` comments, a site pair and a moderator."""
    engine = app.extensions[db.ENGINE]
    postgresql = engine.dialect.name == "postgresql"
    if postgresql:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(engine.url.database + suffix).unlink(missing_ok=True)
    db.upgrade(app)
    with app.app_context(), db.new_session(app, write=True) as s:
        site_a, _ = create_site(s, "blog")
        site_b, _ = create_site(s, "other-blog")
        create_user(s, *MODERATOR, Role.MODERATOR)
        s.commit()
        site_ids = (site_a.id, site_b.id)
    started = time.perf_counter()
    params = {"rows": rows, "site_a": site_ids[0], "site_b": site_ids[1]}
    with engine.begin() as conn:
        conn.execute(text(FILL if postgresql else FILL_SQLITE), params)
        conn.execute(text(FILL_REASONS if postgresql else FILL_REASONS_SQLITE))
        if postgresql:
            conn.execute(text("SELECT setval('comments_id_seq', :rows)"), {"rows": rows})
    print(f"inserted {rows:,} comments in {time.perf_counter() - started:.1f} s")
    analyze(engine)


def analyze(engine: Any, table: str = "") -> None:
    """Refresh the planner's statistics (and, on PostgreSQL, the visibility map)."""
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    else:
        with engine.begin() as conn:
            conn.execute(text(f"ANALYZE {table}"))
    print(f"vacuum/analyze {table or 'everything'} in {time.perf_counter() - started:.1f} s")


def main() -> int:
    """Fill the database if needed, then time the queue API, the page and the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--reload", action="store_true", help="refill even if filled")
    args = parser.parse_args()
    if not args.url.startswith(("postgresql", "sqlite:///")) or args.url.rstrip("/").endswith(
        "/test"
    ):
        parser.error("give the URL of a benchmark database (never the `test` one)")

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "DATABASE_URL": args.url,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    engine = app.extensions[db.ENGINE]
    with engine.connect() as conn:
        filled = inspect(conn).has_table("comments")
        if filled:
            filled = conn.execute(select(func.count()).select_from(Comment)).scalar() == args.rows
    if args.reload or not filled:
        fill(app, args.rows)
    else:
        print(f"reusing the {args.rows:,} comments already in the database (--reload refills)")
        started = time.perf_counter()
        db.upgrade(app)  # a database filled by an older revision: migrate its rows too
        print(f"migrations up to date in {time.perf_counter() - started:.1f} s")
        analyze(engine, "comment_reasons")
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET token_hash = NULL"))
    with app.app_context(), db.new_session(app, write=True) as s:
        from moderation.accounts import find_user

        token = issue_token(s, find_user(s, MODERATOR[0]))
        s.commit()

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def cursor_at(status: Status | None, depth: int, sort: str = "newest") -> str:
        page_size = 200
        cursor = None
        for _ in range(depth // page_size):
            params = {"status": str(status) if status else "all", "limit": page_size, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            body = client.get("/api/v1/queue", query_string=params, headers=headers).get_json()
            cursor = body["next_cursor"]
        return cursor

    def api(expect: int | None = None, **params: Any) -> Callable[[], Any]:
        def run() -> None:
            response = client.get("/api/v1/queue", query_string=params, headers=headers)
            assert response.status_code == 200, response.get_json()
            wanted = params.get("limit", 50) if expect is None else expect
            assert len(response.get_json()["items"]) == wanted

        return run

    with engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT status, count(*) FROM comments GROUP BY 1")).all())
    print(
        f"comments: {sum(counts.values()):,}  "
        + "  ".join(f"{k} {v:,}" for k, v in counts.items())
    )
    print()

    ok = True
    repeat = args.repeat
    print("queue API (GET /api/v1/queue, 50 a page, counts per status included):")
    ok &= report("  pending, first page", measure(api(status="pending"), repeat), GOAL_API_MS)
    deep = cursor_at(Status.PENDING, 10_000)
    ok &= report(
        "  pending, 10,000 deep (keyset)",
        measure(api(status="pending", cursor=deep), repeat),
        GOAL_API_MS,
    )
    ok &= report("  approved, first page", measure(api(status="approved"), repeat), GOAL_API_MS)
    deep = cursor_at(Status.APPROVED, 10_000)
    ok &= report(
        "  approved, 10,000 deep (keyset)",
        measure(api(status="approved", cursor=deep), repeat),
        GOAL_API_MS,
    )
    deep = cursor_at(None, 10_000)
    ok &= report(
        "  all statuses, 10,000 deep (keyset)",
        measure(api(status="all", cursor=deep), repeat),
        GOAL_API_MS,
    )
    ok &= report(
        "  one site + one post, all statuses",
        measure(api(status="all", site="blog", post_id="post-42", limit=20), repeat),
        GOAL_API_MS,
    )

    print("\nsorts and triage filters (issue 16):")
    for sort in ("oldest", "score"):
        for status in (Status.PENDING, Status.APPROVED):
            ok &= report(
                f"  {status}, sort={sort}, first page",
                measure(api(status=str(status), sort=sort), repeat),
                GOAL_API_MS,
            )
            deep = cursor_at(status, 10_000, sort)
            ok &= report(
                f"  {status}, sort={sort}, 10,000 deep",
                measure(api(status=str(status), sort=sort, cursor=deep), repeat),
                GOAL_API_MS,
            )
    ok &= report(
        "  pending, reason=too_many_links (1 in 97), score",
        measure(api(status="pending", reason="too_many_links", sort="score"), repeat),
        GOAL_API_MS,
    )
    ok &= report(
        "  approved, reason=too_many_links",
        measure(api(status="approved", reason="too_many_links"), repeat),
        GOAL_API_MS,
    )
    ok &= report(
        "  pending, reason=hold_score (every comment)",
        measure(api(status="pending", reason="hold_score"), repeat),
        GOAL_API_MS,
    )
    ok &= report(
        "  all, reason=hold_score, oldest",
        measure(api(status="all", reason="hold_score", sort="oldest"), repeat),
        GOAL_API_MS,
    )
    ok &= report(
        "  all, author=one reader (20 comments)",
        measure(api(expect=20, status="all", author="reader4242@example.org"), repeat),
        GOAL_API_MS,
    )
    ok &= report(
        "  pending, author=one reader (20), oldest",
        measure(
            api(expect=20, status="pending", author="reader4240@example.org", sort="oldest"),
            repeat,
        ),
        GOAL_API_MS,
    )
    ok &= report(
        "  all, ip=one address (1,000 comments)",
        measure(api(status="all", ip="198.51.42.43"), repeat),
        GOAL_API_MS,
    )
    print()
    report(
        "  search q, a rare word (trigram index)",
        measure(api(status="all", q="comment 777777:", limit=1), repeat),
        None,
    )
    report(
        "  search q, a common word",
        measure(api(status="pending", q="thanks", limit=50), repeat),
        None,
    )

    print("\ncount per status (what the API and the page run):")
    with app.app_context(), db.new_session(app) as s:
        everything = QueueFilter(status=None)
        cap = app.config["QUEUE_COUNT_LIMIT"]
        ok &= report(
            f"  count_by_status, capped at {cap:,}",
            measure(lambda: count_by_status(s, everything, limit=cap), repeat),
            GOAL_API_MS,
        )
        ok &= report(
            "  same, pending exact, others capped (the API's)",
            measure(
                lambda: count_by_status(
                    s, everything, limit=cap, exact=frozenset({Status.PENDING})
                ),
                repeat,
            ),
            GOAL_API_MS,
        )
        report(
            "  count_by_status, exact (for reference)",
            measure(lambda: count_by_status(s, everything, limit=None), max(10, repeat // 10)),
            None,
        )

    print("\nreview page (GET /review/, signed in, HTML rendered):")
    page_client = app.test_client()
    form = page_client.get("/review/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed_in = page_client.post(
        "/review/login",
        data={"email": MODERATOR[0], "password": MODERATOR[1], "csrf_token": csrf},
    )
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)

    def page(**params: Any) -> Callable[[], Any]:
        def run() -> None:
            response = page_client.get("/review/", query_string=params)
            assert response.status_code == 200
            assert response.get_data(as_text=True).count('class="card ') == 50

        return run

    ok &= report("  pending tab, 50 cards", measure(page(status="pending"), repeat), GOAL_PAGE_MS)
    ok &= report(
        "  approved tab, 50 cards", measure(page(status="approved"), repeat), GOAL_PAGE_MS
    )
    ok &= report(
        "  pending tab, sort=score, 50 cards",
        measure(page(status="pending", sort="score"), repeat),
        GOAL_PAGE_MS,
    )
    ok &= report(
        "  spam tab, sort=oldest, 50 cards",
        measure(page(status="spam", sort="oldest"), repeat),
        GOAL_PAGE_MS,
    )
    print("\nall goals met" if ok else "\nSOME GOALS MISSED")
    engine.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
