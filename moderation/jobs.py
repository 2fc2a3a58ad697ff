"""Training jobs: one open at a time (a database index), run at low priority, heartbeated.

Life of a job: the API inserts a *queued* row (the partial unique index on
training_jobs refuses a second open one, whichever process or host asks), commits,
and starts a runner. The runner claims the row (*running*), beats its heartbeat every
JOB_HEARTBEAT_SECONDS while it trains, and ends it *succeeded* (with the version it
stored) or *failed* (with the error). A job whose heartbeat is older than
JOB_STALE_SECONDS (or a job still queued after JOB_QUEUED_SECONDS) lost its runner (a
crash, a restart, a killed host): whoever looks next (the API, the admin page, a new
runner, an app starting) marks it failed, and a runner that wakes up afterwards finds
its row no longer its own and stores nothing.

Runners (JOB_RUNNER): "subprocess" (default) starts `python -m moderation.jobs <id>`
under `nice` with one BLAS/OpenMP thread, so on a 2-core host training takes one core
at low priority and never holds the intake worker's GIL; "thread" runs it in the
worker process (small installs, no fork); "none" leaves it queued for
`flask admin run-job` (cron, a scheduler, a dedicated host).
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
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
RUNNERS = "moderation.job_runners"
LOG_MAX_CHARS = 20_000
# Config keys the runner process must not inherit (it serves nothing).
PRIVATE_CONFIG = frozenset({"SECRET_KEY", "WTF_CSRF_SECRET_KEY"})


class Runner(enum.StrEnum):
    """Where a queued job is run."""

    SUBPROCESS = "subprocess"
    THREAD = "thread"
    NONE = "none"


def init_app(app: Flask) -> None:
    """Check the runner and fail the jobs a previous run of the service left open."""
    Runner(app.config["JOB_RUNNER"])  # refuse an unknown runner at start, not at first job
    app.extensions[RUNNERS] = []
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


# --- starting a runner ---


def start_runner(app: Flask, job_id: int) -> None:
    """Start the configured runner for a committed, queued job."""
    runner = Runner(app.config["JOB_RUNNER"])
    if runner is Runner.NONE:
        return
    if runner is Runner.THREAD:
        thread = threading.Thread(
            target=_run_in_thread, args=(app, job_id), name=f"training-job-{job_id}", daemon=True
        )
        thread.start()
        app.extensions[RUNNERS].append(thread)
        return
    try:
        process = spawn_runner(app, job_id)
    except OSError as exc:
        _fail_unstarted(app, job_id, f"the runner could not be started: {exc}")
        return
    app.extensions[RUNNERS].append(process)
    # Reap the child when it ends, so a long-lived worker collects no zombies.
    threading.Thread(target=process.wait, name=f"reap-job-{job_id}", daemon=True).start()


def _run_in_thread(app: Flask, job_id: int) -> None:
    # Linux gives each thread its own nice value: lower this one's priority only.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), int(app.config["JOB_NICE"]))
    run_job(app, job_id)


def runner_config(app: Flask) -> dict[str, Any]:
    """Return the JSON-ready part of the app's config a runner process is built with."""
    simple = (str, int, float, bool, type(None))
    return {
        key: value
        for key, value in app.config.items()
        if key.isupper() and key not in PRIVATE_CONFIG and isinstance(value, simple)
    }


def spawn_runner(app: Flask, job_id: int) -> subprocess.Popen[bytes]:
    """Start `python -m moderation.jobs <id>` at low priority with one compute thread."""
    env = dict(os.environ)
    env["MODERATION_RUNNER_CONFIG"] = json.dumps(runner_config(app))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    return subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "moderation.jobs", str(job_id)],
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # a worker's restart signal does not reach the runner
    )


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


def main(argv: list[str] | None = None) -> int:
    """Run one job in this process: the runner the service starts (`python -m`)."""
    import secrets

    from moderation import create_app

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m moderation.jobs JOB_ID", file=sys.stderr)
        return 2
    config = json.loads(os.environ.pop("MODERATION_RUNNER_CONFIG", "{}"))
    if niceness := int(config.get("JOB_NICE", 0)):
        os.nice(niceness)  # below the intake workers: training waits, comments do not
    config["SECRET_KEY"] = secrets.token_hex(16)  # required by the factory; never used
    logging.basicConfig(level=logging.INFO, format="%(asctime)s job %(message)s")
    app = create_app(config)
    status = run_job(app, int(args[0]))
    app.extensions[db.ENGINE].dispose()
    return 0 if status is JobStatus.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
