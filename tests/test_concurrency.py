"""Duplicate and flood checks hold across processes (shown on SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from tests.conftest import comment_payload

ROUNDS = 6
WORKERS = 2


def post_rounds(
    config: dict[str, Any], key: str, bodies: list[dict[str, Any]], barrier: Any, out: Any
) -> None:
    """Child process: build its own app, then post one body per round at the barrier."""
    from moderation import create_app

    app = create_app(config)
    client = app.test_client()
    statuses = []
    for body in bodies:
        barrier.wait(timeout=60)
        response = client.post(
            "/api/v1/comments", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        statuses.append(response.status_code)
    out.put(statuses)


def run_workers(
    app_config: dict[str, Any], key: str, bodies_per_worker: list[list[dict[str, Any]]]
) -> list[list[int]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=post_rounds, args=(app_config, key, bodies, barrier, out))
        for bodies in bodies_per_worker
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    return results


def by_round(results: list[list[int]]) -> list[list[int]]:
    return [sorted(statuses) for statuses in zip(*results, strict=True)]


@pytest.mark.timeout(240)
def test_same_comment_from_two_processes_is_stored_once(app_config, creds):
    config = {**app_config, "FLOOD_SECONDS": 0}
    bodies = [
        comment_payload(content=f"The same words, round {n}.", author_email=f"twin{n}@example.org")
        for n in range(ROUNDS)
    ]
    workers = [
        [dict(body, author_ip=f"192.0.2.{w + 1}") for body in bodies] for w in range(WORKERS)
    ]
    for statuses in by_round(run_workers(config, creds.site_key, workers)):
        assert statuses == [201, 409]


@pytest.mark.timeout(240)
def test_same_ip_from_two_processes_passes_the_flood_check_once(app_config, creds):
    workers = [
        [
            comment_payload(
                content=f"Worker {w} says something new in round {n}.",
                author_email=f"w{w}r{n}@example.org",
                author_ip=f"203.0.113.{n + 1}",
            )
            for n in range(ROUNDS)
        ]
        for w in range(WORKERS)
    ]
    for statuses in by_round(run_workers(app_config, creds.site_key, workers)):
        assert statuses == [201, 429]
