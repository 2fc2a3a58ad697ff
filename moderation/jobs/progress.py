"""How far a training job has come, read from the steps its log records."""

from __future__ import annotations

from dataclasses import dataclass

from moderation.tables import JobStatus

# The log lines a training job writes (jobs.runner, retraining.candidate): marker, step, name.
STEPS: tuple[tuple[str, int, str], ...] = (
    ("started by ", 1, "started"),
    (" labelled texts: ", 2, "labels read"),
    ("fitted in ", 3, "fitted"),
    ("against version ", 4, "compared with the active version"),
    ("no active version to compare with", 4, "evaluated"),
    ("stored version ", 5, "stored"),
)
TOTAL = 5


@dataclass(frozen=True)
class JobProgress:
    """Steps done out of TOTAL, and the last one's name."""

    done: int
    total: int
    stage: str


def job_progress(status: JobStatus | str, log: str) -> JobProgress:
    """Return how far a job has come (a finished job is complete whatever its log says)."""
    status = JobStatus(status)
    if status is JobStatus.SUCCEEDED:
        return JobProgress(TOTAL, TOTAL, "done")
    done, stage = 0, "waiting for a worker" if status is JobStatus.QUEUED else "starting"
    for line in (log or "").splitlines():
        for marker, step, name in STEPS:
            if marker in line and step > done:
                done, stage = step, name
    if status is JobStatus.FAILED:
        stage = "failed"
    return JobProgress(done, TOTAL, stage)
