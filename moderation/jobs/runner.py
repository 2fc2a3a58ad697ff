"""Running a training job: start a runner, claim the row, heartbeat, store the result."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from moderation import db
from moderation.jobs.records import RUNNERS
from moderation.jobs.records import Runner
from moderation.jobs.records import sweep_stale_jobs
from moderation.tables import JobStatus
from moderation.tables import TrainingJob
from moderation.tables import utcnow

logger = logging.getLogger(__name__)

LOG_MAX_CHARS = 20_000
# Config keys the runner process must not inherit (it serves nothing).
PRIVATE_CONFIG = frozenset({"SECRET_KEY", "WTF_CSRF_SECRET_KEY"})

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
