"""Running a training job: queue it, claim the row, heartbeat, store the result."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from moderation import db
from moderation import taskqueue
from moderation.jobs.records import Runner
from moderation.jobs.records import sweep_stale_jobs
from moderation.tables import JobStatus
from moderation.tables import TrainingJob
from moderation.tables import utcnow

logger = logging.getLogger(__name__)

LOG_MAX_CHARS = 20_000
TASK = "training_job"

# --- queueing a job ---


def register_task(app: Flask) -> None:
    """Register the training task on the app's queue."""
    taskqueue.register(app, TASK, run_queued_job)


def start_runner(app: Flask, job_id: int) -> None:
    """Put a committed, queued job on the task queue (JOB_RUNNER=none leaves it queued)."""
    if Runner(app.config["JOB_RUNNER"]) is Runner.NONE:
        return
    if not taskqueue.enqueue(app, TASK, job_id):
        _fail_unstarted(app, job_id, "the task queue could not be reached")


def run_queued_job(app: Flask, job_id: int) -> JobStatus | None:
    """Run a job on a worker thread: lowered priority, one BLAS/OpenMP thread.

    The worker's other threads keep delivering webhooks and mail while it trains, and on
    a 2-core host training takes one core below the intake's priority.
    """
    # Linux gives each thread its own nice value: lower this one's priority only.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), int(app.config["JOB_NICE"]))
    try:
        with threadpool_limits(limits=1):
            return run_job(app, job_id)
    finally:
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 0)


def _fail_unstarted(app: Flask, job_id: int, error: str) -> None:
    with db.new_session(app, write=True) as session:
        session.execute(
            update(TrainingJob)
            .where(TrainingJob.id == job_id, TrainingJob.status == JobStatus.QUEUED)
            .values(status=JobStatus.FAILED, finished_at=utcnow(), error=error)
        )
        session.commit()


# --- running a job ---


class JobLog:
    """The lines a run writes; the heartbeat stores them with each beat."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        """Append a timestamped line."""
        stamp = utcnow().strftime("%H:%M:%S")
        with self._lock:
            self._lines.append(f"{stamp} {message}")

    def text(self) -> str:
        """Return the log, keeping its end when it grows past LOG_MAX_CHARS."""
        with self._lock:
            text = "\n".join(self._lines)
        return text if len(text) <= LOG_MAX_CHARS else "…" + text[-LOG_MAX_CHARS:]


class Heartbeat:
    """A thread that beats the job's heartbeat and saves its log until stopped."""

    def __init__(self, app: Flask, job_id: int, worker: str, log: JobLog) -> None:
        self.app = app
        self.job_id = job_id
        self.worker = worker
        self.log = log
        self.lost = threading.Event()  # the row was taken from us (marked failed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        period = float(self.app.config["JOB_HEARTBEAT_SECONDS"])
        while not self._stop.wait(period):
            try:
                if not self.beat():
                    self.lost.set()
                    return
            except SQLAlchemyError as exc:  # a missed beat; the next one may get through
                logger.warning("heartbeat of job %s failed: %s", self.job_id, exc)

    def beat(self) -> bool:
        """Store the heartbeat and the log; False when the job is no longer ours."""
        with db.new_session(self.app, write=True) as session:
            result = session.execute(
                update(TrainingJob)
                .where(*owned(self.job_id, self.worker))
                .values(heartbeat_at=utcnow(), log=self.log.text())
            )
            session.commit()
        return result.rowcount == 1


def owned(job_id: int, worker: str) -> tuple[Any, ...]:
    """Return the WHERE clause of the job still running under this worker."""
    return (
        TrainingJob.id == job_id,
        TrainingJob.status == JobStatus.RUNNING,
        TrainingJob.worker == worker,
    )


def worker_name() -> str:
    """Return host:pid:thread, naming this runner in the job row."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim(app: Flask, job_id: int, worker: str) -> TrainingJob | None:
    """Turn a queued job into a running one owned by `worker`, or return None."""
    sweep_stale_jobs(app)
    now = utcnow()
    with db.new_session(app, write=True) as session:
        result = session.execute(
            update(TrainingJob)
            .where(TrainingJob.id == job_id, TrainingJob.status == JobStatus.QUEUED)
            .values(status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, worker=worker)
        )
        session.commit()
        if result.rowcount != 1:
            return None
        return session.get(TrainingJob, job_id)


Work = Callable[[Flask, TrainingJob, JobLog], Callable[[Session], int]]


def run_job(app: Flask, job_id: int, work: Work | None = None) -> JobStatus | None:
    """Run a queued job to its end; return its final status (None if it was not queued).

    `work(app, job, log)` does the long part outside any transaction and returns a
    function that stores its result in the session it is given and returns the
    version id; the result is stored only while the job is still ours.
    """
    if work is None:
        from moderation.retraining import run_training

        work = run_training
    worker = worker_name()
    job = claim(app, job_id, worker)
    if job is None:
        logger.info("training job %s is not queued; nothing to run", job_id)
        return None
    log = JobLog()
    log(f"started by {worker}")
    started = time.monotonic()
    try:
        with Heartbeat(app, job_id, worker, log) as heartbeat:
            store = work(app, job, log)
            if heartbeat.lost.is_set():
                raise JobLost
            with db.new_session(app, write=True) as session:
                version_id = store(session)
                log(f"stored version {version_id} in {time.monotonic() - started:.1f} s")
                result = session.execute(
                    update(TrainingJob)
                    .where(*owned(job_id, worker))
                    .values(
                        status=JobStatus.SUCCEEDED,
                        finished_at=utcnow(),
                        heartbeat_at=utcnow(),
                        version_id=version_id,
                        log=log.text(),
                    )
                )
                if result.rowcount != 1:
                    session.rollback()
                    raise JobLost
                session.commit()
        return JobStatus.SUCCEEDED
    except JobLost:
        logger.warning("training job %s was marked failed while it ran; result dropped", job_id)
        return JobStatus.FAILED
    except Exception as exc:
        logger.exception("training job %s failed", job_id)
        log(f"failed: {exc}")
        _finish_failed(app, job_id, worker, str(exc) or exc.__class__.__name__, log)
        return JobStatus.FAILED


class JobLost(RuntimeError):
    """The job was marked failed by someone else (our heartbeat had gone stale)."""


def _finish_failed(app: Flask, job_id: int, worker: str, error: str, log: JobLog) -> None:
    with db.new_session(app, write=True) as session:
        session.execute(
            update(TrainingJob)
            .where(*owned(job_id, worker))
            .values(status=JobStatus.FAILED, finished_at=utcnow(), error=error, log=log.text())
        )
        session.commit()


def run_next(app: Flask) -> JobStatus | None:
    """Run the oldest queued job, if any (for JOB_RUNNER=none and schedulers)."""
    with db.new_session(app) as session:
        job_id = session.scalar(
            select(TrainingJob.id)
            .where(TrainingJob.status == JobStatus.QUEUED)
            .order_by(TrainingJob.id)
            .limit(1)
        )
    return None if job_id is None else run_job(app, job_id)
