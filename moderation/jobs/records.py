"""Training-job rows: create one (one open at a time), look at them, end lost ones."""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import and_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from moderation import db
from moderation.problems import Problem
from moderation.tables import JobStatus
from moderation.tables import TrainingJob
from moderation.tables import utcnow

logger = logging.getLogger(__name__)


OPEN = (JobStatus.QUEUED, JobStatus.RUNNING)


class Runner(enum.StrEnum):
    """Where a queued job is run."""

    QUEUE = "queue"  # the task queue's worker (`flask worker`)
    NONE = "none"  # left queued for `flask admin run-job`


def init_app(app: Flask) -> None:
    """Check the runner, register the training task, fail the jobs a previous run left open."""
    from moderation.jobs.runner import register_task

    Runner(app.config["JOB_RUNNER"])  # refuse an unknown runner at start, not at first job
    register_task(app)
    try:
        sweep_stale_jobs(app)
    except SQLAlchemyError as exc:  # not migrated yet, or the database is down: later
        logger.info("stale training jobs not checked at start: %s", exc.__class__.__name__)


# --- looking at jobs (every look first ends the jobs whose runner died) ---


@dataclass(frozen=True)
class Limits:
    """How long a job may go unheard of before it counts as lost."""

    running_seconds: float  # since the last heartbeat of a running job
    queued_seconds: float  # since a queued job was created, for a runner to claim it

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Limits:
        """Read the limits from the app's config."""
        return cls(float(config["JOB_STALE_SECONDS"]), float(config["JOB_QUEUED_SECONDS"]))


def _lost(status: JobStatus, now: datetime, limits: Limits) -> Any:
    if status is JobStatus.RUNNING:
        cutoff = now - timedelta(seconds=limits.running_seconds)
        return and_(TrainingJob.status == status, TrainingJob.heartbeat_at < cutoff)
    cutoff = now - timedelta(seconds=limits.queued_seconds)
    return and_(TrainingJob.status == status, TrainingJob.created_at < cutoff)


def stale_condition(now: datetime, limits: Limits) -> Any:
    """Return the WHERE clause of open jobs whose runner is lost."""
    return or_(_lost(JobStatus.RUNNING, now, limits), _lost(JobStatus.QUEUED, now, limits))


def fail_stale_jobs(session: Session, now: datetime, limits: Limits) -> list[int]:
    """Mark failed every open job whose runner is lost (no commit)."""
    ids = list(session.scalars(select(TrainingJob.id).where(stale_condition(now, limits))))
    if not ids:
        return []
    errors = {
        JobStatus.RUNNING: f"the runner stopped (no heartbeat for {limits.running_seconds:g} s):"
        " the worker died or was restarted",
        JobStatus.QUEUED: f"no runner started it within {limits.queued_seconds:g} s",
    }
    for status, error in errors.items():
        session.execute(
            update(TrainingJob)
            .where(TrainingJob.id.in_(ids), _lost(status, now, limits))
            .values(status=JobStatus.FAILED, finished_at=now, error=error)
        )
    return ids


def sweep_stale_jobs(app: Flask) -> list[int]:
    """Fail stale jobs in a transaction of their own; read first so most looks stay reads."""
    now = utcnow()
    limits = Limits.of(app.config)
    with db.new_session(app) as session:
        found = session.scalar(select(TrainingJob.id).where(stale_condition(now, limits)).limit(1))
    if found is None:
        return []
    with db.new_session(app, write=True) as session:
        ids = fail_stale_jobs(session, now, limits)
        session.commit()
    if ids:
        logger.warning("training jobs %s lost their runner and were marked failed", ids)
    return ids


def look_at_jobs(app: Flask, session: Session) -> None:
    """Fail stale jobs before showing any; `session` then sees the result."""
    if sweep_stale_jobs(app):
        # The sweep committed in its own transaction; end this session's read snapshot
        # (SQLite keeps one per transaction) so it reads the jobs as they are now.
        session.commit()


def get_job(session: Session, job_id: int) -> TrainingJob:
    """Return a job or raise 404."""
    job = session.get(TrainingJob, job_id)
    if job is None:
        raise Problem(404, "Not Found", f"There is no training job {job_id}.")
    return job


def list_jobs(session: Session, limit: int = 20) -> list[TrainingJob]:
    """Return the newest jobs first."""
    stmt = select(TrainingJob).order_by(TrainingJob.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def open_job(session: Session) -> TrainingJob | None:
    """Return the queued or running job, if there is one."""
    return session.scalar(select(TrainingJob).where(TrainingJob.status.in_(OPEN)).limit(1))


def job_busy(job: TrainingJob | None) -> Problem:
    """Return the 409 answered when a job is already open."""
    detail = "A training job is already queued or running; wait for it to finish."
    extensions: dict[str, Any] = {}
    if job is not None:
        detail = f"Training job {job.id} is {job.status}; wait for it to finish."
        extensions = {"job_id": job.id, "location": f"/api/v1/admin/training-jobs/{job.id}"}
    return Problem(409, "A training job is open", detail, type="/problems/job-open", **extensions)


def create_job(
    session: Session, options: dict[str, Any], actor: str, *, now: datetime | None = None
) -> TrainingJob:
    """Queue a job (no commit); the unique index turns a second open job into a 409."""
    now = now or utcnow()
    job = TrainingJob(
        status=JobStatus.QUEUED,
        options=options,
        log="",
        created_by=actor,
        created_at=now,
        heartbeat_at=now,
    )
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        raise job_busy(open_job(session)) from None
    return job
