"""Training jobs: one open at a time, run to an end, and never left running by a crash."""

from __future__ import annotations

import csv
import os
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from moderation import create_app
from moderation import db
from moderation import jobs
from moderation.tables import ClassifierVersion
from moderation.tables import JobStatus
from moderation.tables import Site
from moderation.tables import Status
from moderation.tables import TrainingJob
from moderation.tables import utcnow
from tests.admin_support import add_labelled
from tests.admin_support import fit_base
from tests.admin_support import novel_spam
from tests.admin_support import site_ham
from tests.admin_support import store_version
from tests.worker_support import Worker

JOBS = "/api/v1/admin/training-jobs"


@pytest.fixture
def app_config(app_config: dict[str, Any], tmp_path) -> dict[str, Any]:
    """Leave queued jobs alone unless a test runs them; short heartbeats."""
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    return {
        **app_config,
        "JOB_RUNNER": "none",
        "JOB_HEARTBEAT_SECONDS": 0.2,
        "JOB_STALE_SECONDS": 30.0,
        "CORPUS_DIR": str(corpora),
    }


def labelled_site(app, n: int = 30) -> None:
    """Give the blog a base version and n spam and n ham moderator decisions."""
    with db.new_session(app) as s:
        site_id = s.scalar(select(Site.id).where(Site.name == "blog"))
    store_version(app, fit_base(), active=True)
    add_labelled(app, site_id, novel_spam(n), Status.SPAM, "mod@example.org")
    add_labelled(app, site_id, site_ham(n), Status.APPROVED, "mod@example.org")


def get_job(client, creds, job_id: int) -> dict[str, Any]:
    response = client.get(f"{JOBS}/{job_id}", headers=creds.headers("admin"))
    assert response.status_code == 200
    return response.get_json()


def test_a_job_is_queued_and_only_one_may_be_open(app, client, creds):
    first = client.post(JOBS, json={}, headers=creds.headers("admin"))
    assert first.status_code == 202
    body = first.get_json()
    assert first.headers["Location"] == f"{JOBS}/{body['id']}"
    assert body["status"] == "queued"
    assert body["options"] == {"include_decisions": True, "since": None, "corpus_files": []}
    second = client.post(JOBS, json={}, headers=creds.headers("admin"))
    assert second.status_code == 409
    assert second.get_json()["job_id"] == body["id"]
    # The database itself refuses a second open job, whoever inserts it.
    with db.new_session(app, write=True) as s:
        s.add(TrainingJob(status=JobStatus.RUNNING, options={}, created_by="x"))
        with pytest.raises(IntegrityError):
            s.flush()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"include_decisions": False}, "include_decisions"),
        ({"corpus_files": ["../etc/passwd"]}, "corpus_files"),
        ({"corpus_files": ["absent.csv"]}, "corpus_files"),
        ({"since": "2024-01-01T00:00:00"}, "since"),  # no timezone
        ({"include_decisions": "yes"}, "include_decisions"),
        ({"epochs": 3}, "epochs"),
    ],
)
def test_invalid_job_options_are_refused(app, client, creds, body, field):
    response = client.post(JOBS, json=body, headers=creds.headers("admin"))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    with db.new_session(app) as s:
        assert s.scalar(select(func.count()).select_from(TrainingJob)) == 0


def test_a_job_runs_to_a_version_with_its_log_and_metrics(app, client, creds):
    labelled_site(app)
    job_id = client.post(JOBS, json={}, headers=creds.headers("admin")).get_json()["id"]
    assert jobs.run_job(app, job_id) is JobStatus.SUCCEEDED
    job = get_job(client, creds, job_id)
    assert job["status"] == "succeeded"
    assert job["started_at"]
    assert job["finished_at"]
    assert job["heartbeat_at"]
    assert "60 moderator decisions" in job["log"]
    assert f"stored version {job['version_id']}" in job["log"]
    versions = client.get("/api/v1/admin/model-versions", headers=creds.headers("admin"))
    listed = {v["id"]: v for v in versions.get_json()["items"]}
    produced = listed[job["version_id"]]
    assert produced["active"] is False
    assert produced["created_by"] == "admin@example.org"
    assert produced["metrics"]["comparison"]["acceptable"] is True
    assert produced["manifest"]["training_data"]["sources"] == {
        "decisions": 60 - (produced["metrics"]["holdout"]["n"])
    }
    # A finished job frees the slot.
    assert client.post(JOBS, json={}, headers=creds.headers("admin")).status_code == 202


def test_a_job_that_cannot_learn_ends_failed_with_the_reason(app, client, creds):
    job_id = client.post(JOBS, json={}, headers=creds.headers("admin")).get_json()["id"]
    assert jobs.run_job(app, job_id) is JobStatus.FAILED
    job = get_job(client, creds, job_id)
    assert job["status"] == "failed"
    assert "both spam and ham" in job["error"]
    assert job["version_id"] is None


def test_a_job_learns_from_corpus_files_without_decisions(app, client, creds):
    corpus = os.path.join(app.config["CORPUS_DIR"], "site.csv")
    with open(corpus, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["content", "label"])
        writer.writerows(
            [(t, "spam") for t in novel_spam(40)] + [(t, "ham") for t in site_ham(40)]
        )
    body = {"include_decisions": False, "corpus_files": ["site.csv"]}
    job_id = client.post(JOBS, json=body, headers=creds.headers("admin")).get_json()["id"]
    assert jobs.run_job(app, job_id) is JobStatus.SUCCEEDED
    job = get_job(client, creds, job_id)
    with db.new_session(app) as s:
        version = s.get(ClassifierVersion, job["version_id"])
        assert "site.csv" in version.manifest["training_data"]["corpus_files"]
        assert version.manifest["base_version"] is None  # no active version: a root


def test_a_stale_job_is_failed_by_whoever_looks_next(app, client, creds):
    old = utcnow() - timedelta(seconds=120)
    with db.new_session(app, write=True) as s:
        job = TrainingJob(
            status=JobStatus.RUNNING,
            options={},
            created_by="admin@example.org",
            created_at=old,
            started_at=old,
            heartbeat_at=old,
            worker="gone-host:1:1",
        )
        s.add(job)
        s.commit()
    looked = get_job(client, creds, job.id)
    assert looked["status"] == "failed"
    assert "no heartbeat" in looked["error"]
    # A queued job no runner claimed within JOB_QUEUED_SECONDS is lost too.
    long_ago = utcnow() - timedelta(seconds=app.config["JOB_QUEUED_SECONDS"] + 1)
    with db.new_session(app, write=True) as s:
        queued = TrainingJob(
            status=JobStatus.QUEUED, options={}, created_by="x", created_at=long_ago
        )
        s.add(queued)
        s.commit()
    assert "no runner started it" in get_job(client, creds, queued.id)["error"]
    # The slot is free again.
    assert client.post(JOBS, json={}, headers=creds.headers("admin")).status_code == 202


def test_an_app_starting_fails_the_jobs_a_restart_cut_off(app, app_config):
    old = utcnow() - timedelta(seconds=120)
    with db.new_session(app, write=True) as s:
        s.add(
            TrainingJob(
                status=JobStatus.RUNNING,
                options={},
                created_by="x",
                created_at=old,
                started_at=old,
                heartbeat_at=old,
                worker="this-host:123:1",
            )
        )
        s.commit()
    restarted = create_app(app_config)
    try:
        with db.new_session(restarted) as s:
            assert s.scalar(select(TrainingJob.status)) is JobStatus.FAILED
    finally:
        restarted.extensions[db.ENGINE].dispose()


def test_a_runner_whose_job_was_failed_meanwhile_stores_nothing(app, client, creds):
    labelled_site(app)
    job_id = client.post(JOBS, json={}, headers=creds.headers("admin")).get_json()["id"]

    def work_then_lose_the_job(app_: Any, job: Any, log: Any) -> Any:
        from moderation.retraining import run_training

        store = run_training(app_, job, log)
        # Meanwhile another process decided this runner was dead.
        with db.new_session(app_, write=True) as s:
            s.get(TrainingJob, job.id).status = JobStatus.FAILED
            s.commit()
        return store

    assert jobs.run_job(app, job_id, work=work_then_lose_the_job) is JobStatus.FAILED
    with db.new_session(app) as s:
        assert s.scalar(select(func.count()).select_from(ClassifierVersion)) == 1  # the base
        assert s.get(TrainingJob, job_id).version_id is None


def test_only_one_runner_claims_a_job(app, client, creds):
    labelled_site(app, n=10)
    job_id = client.post(JOBS, json={}, headers=creds.headers("admin")).get_json()["id"]
    assert jobs.claim(app, job_id, "a:1:1") is not None
    assert jobs.claim(app, job_id, "b:2:2") is None
    assert jobs.run_job(app, job_id) is None  # not queued any more: nothing to run


def test_the_worker_runs_a_queued_job_in_its_own_process(app, client, creds, tmp_path):
    labelled_site(app, n=20)
    app.config["JOB_RUNNER"] = "queue"
    worker = Worker(app, tmp_path / "worker.log").start()
    job_id = client.post(JOBS, json={}, headers=creds.headers("admin")).get_json()["id"]
    deadline = time.monotonic() + 60
    job = get_job(client, creds, job_id)
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = get_job(client, creds, job_id)
    worker.stop()
    assert job["status"] == "succeeded", (job, worker.output())
    assert job["version_id"]
    _host, pid, _thread = job["log"].splitlines()[0].split()[-1].split(":")
    assert int(pid) == worker.process.pid


def test_queued_jobs_run_from_the_command_line(app, client, creds, runner):
    labelled_site(app, n=10)
    assert runner.invoke(args=["admin", "run-job"]).exit_code != 0  # nothing queued
    job_id = client.post(JOBS, json={}, headers=creds.headers("admin")).get_json()["id"]
    result = runner.invoke(args=["admin", "run-job"])
    assert result.exit_code == 0, result.output
    assert "ended succeeded" in result.output
    assert get_job(client, creds, job_id)["status"] == "succeeded"
