"""End to end: intake, a moderator's labels, a training job, promotion seen by the intake;
a worse candidate refused; a crashed job ends failed. Real runner processes throughout."""

from __future__ import annotations

import csv
import os
import random
import time
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select

from moderation import db
from moderation.tables import ClassifierVersion
from moderation.tables import JobStatus
from moderation.tables import Site
from moderation.tables import Status
from moderation.tables import TrainingJob
from tests.admin_support import add_labelled
from tests.admin_support import fit_base
from tests.admin_support import novel_spam
from tests.admin_support import site_ham
from tests.admin_support import store_version
from tests.worker_support import Worker

ADMIN_API = "/api/v1/admin"


@pytest.fixture
def app_config(app_config: dict[str, Any], tmp_path) -> dict[str, Any]:
    """Run jobs as the service does by default: on the task queue's worker process."""
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    return {
        **app_config,
        "JOB_RUNNER": "queue",
        "JOB_HEARTBEAT_SECONDS": 0.2,
        "CORPUS_DIR": str(corpora),
    }


@pytest.fixture
def worker(app, tmp_path):
    """Run `flask worker` beside the test, as `make run` does."""
    process = Worker(app, tmp_path / "worker.log").start()
    yield process
    process.stop()


def wait_for_job(client, creds, job_id: int, timeout: float = 60.0) -> dict[str, Any]:
    """Poll the job API until the job ends."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"{ADMIN_API}/training-jobs/{job_id}", headers=creds.headers("admin"))
        body = job.get_json()
        if body["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def start_job(client, creds, body: dict[str, Any] | None = None) -> int:
    response = client.post(
        f"{ADMIN_API}/training-jobs", json=body or {}, headers=creds.headers("admin")
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def promote(client, creds, version_id: int, force: bool = False) -> Any:
    return client.post(
        f"{ADMIN_API}/model-versions/{version_id}/promote",
        json={"force": force} if force else {},
        headers=creds.headers("admin"),
    )


def test_decisions_retrain_a_version_the_intake_uses_and_a_worse_one_is_refused(
    app, client, creds, site_api, worker
):
    base_id = store_version(app, fit_base(), active=True)

    # Comments arrive through the intake and are scored by the base version.
    arrived: dict[int, bool] = {}
    for spam, texts in ((True, novel_spam(40, seed=3)), (False, site_ham(40, seed=3))):
        for text in texts:
            response = site_api.post(content=text)
            assert response.status_code == 201, response.get_json()
            body = response.get_json()
            assert body["classifier_version"] == base_id
            arrived[body["id"]] = spam

    # A moderator labels them through the API.
    for comment_id, spam in arrived.items():
        action = "spam" if spam else "approve"
        decided = client.post(
            f"/api/v1/comments/{comment_id}/{action}", json={}, headers=creds.headers("moderator")
        )
        assert decided.status_code == 200, decided.get_json()
        assert decided.get_json()["comment"]["status"] == ("spam" if spam else "approved")

    # An admin retrains: a job in a runner process, followed through the API.
    probe = "Telegram mentor Anna gave me ethereum signals, my profits doubled, thank you"
    before = site_api.post(content=probe).get_json()
    assert before["classifier_version"] == base_id
    job = wait_for_job(client, creds, start_job(client, creds))
    assert job["status"] == "succeeded", job
    new_id = job["version_id"]
    versions = client.get(f"{ADMIN_API}/model-versions", headers=creds.headers("admin")).get_json()
    candidate = next(v for v in versions["items"] if v["id"] == new_id)
    assert versions["active_id"] == base_id
    assert candidate["metrics"]["compared_with"] == base_id
    assert candidate["metrics"]["comparison"]["acceptable"] is True
    assert candidate["metrics"]["holdout"]["n"] == candidate["metrics"]["active_on_holdout"]["n"]

    # Promoted, the new version is what the intake scores with, and it scores a comment
    # like the labelled ones very differently.
    promoted = promote(client, creds, new_id)
    assert promoted.status_code == 200, promoted.get_json()
    assert promoted.get_json()["previous_id"] == base_id
    after = site_api.post(content=probe + " 🙏").get_json()
    assert after["classifier_version"] == new_id
    assert after["spam_score"] > before["spam_score"] + 0.3, (before, after)
    assert after["status"] != "approved"
    score_reason = next(r for r in after["reasons"] if r["code"].endswith("_score"))
    assert f"(v{new_id})" in score_reason["detail"]

    # A candidate trained on wrong labels is judged on the moderators' held-out decisions
    # and refused; force overrides; rollback returns to the good version.
    flipped = os.path.join(app.config["CORPUS_DIR"], "flipped.csv")
    with open(flipped, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["content", "label"])
        writer.writerows((text, "ham") for text in novel_spam(60, seed=11))
        writer.writerows((text, "spam") for text in site_ham(60, seed=11))
    worse = wait_for_job(
        client,
        creds,
        start_job(client, creds, {"include_decisions": False, "corpus_files": ["flipped.csv"]}),
    )
    assert worse["status"] == "succeeded", worse
    refused = promote(client, creds, worse["version_id"])
    assert refused.status_code == 409
    problem = refused.get_json()
    assert problem["type"] == "/problems/candidate-worse"
    assert problem["comparison"]["acceptable"] is False
    assert site_api.post(content=probe + " 🙏🙏").get_json()["classifier_version"] == new_id
    forced = promote(client, creds, worse["version_id"], force=True)
    assert forced.status_code == 200
    assert forced.get_json()["forced"] is True
    back = client.post(
        f"{ADMIN_API}/model-versions/rollback", json={}, headers=creds.headers("admin")
    )
    assert back.get_json()["version"]["id"] == new_id
    assert site_api.post(content=probe + " 🙏🙏🙏").get_json()["classifier_version"] == new_id


def test_a_crashed_job_ends_failed(app, client, creds, worker):
    """The runner process dies mid-training: the job ends failed, never running forever."""
    with db.new_session(app) as s:
        site_id = s.scalar(select(Site.id).where(Site.name == "blog"))
    store_version(app, fit_base(), active=True)
    add_labelled(app, site_id, novel_spam(20), Status.SPAM, "mod@example.org")
    add_labelled(app, site_id, site_ham(20), Status.APPROVED, "mod@example.org")
    # Enough text that training takes a few seconds, so the kill lands while it runs.
    rng = random.Random(7)  # noqa: S311 (test data)
    words = [f"w{i}" for i in range(3000)]
    with open(os.path.join(app.config["CORPUS_DIR"], "big.csv"), "w") as handle:
        handle.write("content,label\n")
        for i in range(15000):
            text = " ".join(rng.choice(words) for _ in range(30))
            handle.write(f"{text},{'spam' if i % 2 else 'ham'}\n")
    job_id = start_job(client, creds, {"corpus_files": ["big.csv"]})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with db.new_session(app) as s:
            status = s.get(TrainingJob, job_id).status
        if status is not JobStatus.QUEUED:
            break
        time.sleep(0.02)
    assert status is JobStatus.RUNNING
    worker.kill()
    app.config["JOB_STALE_SECONDS"] = 1.0  # this process's patience (the runner had its own)
    time.sleep(1.2)
    job = wait_for_job(client, creds, job_id)
    assert job["status"] == "failed"
    assert "no heartbeat" in job["error"]
    with db.new_session(app) as s:
        assert s.scalar(select(func.count()).select_from(ClassifierVersion)) == 1
    # The slot is free again (queued only: no runner left behind by this test).
    app.config["JOB_RUNNER"] = "none"
    assert (
        client.post(
            f"{ADMIN_API}/training-jobs", json={}, headers=creds.headers("admin")
        ).status_code
        == 202
    )
