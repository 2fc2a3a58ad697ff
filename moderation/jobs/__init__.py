"""Training jobs: one open at a time (a database index), run at low priority, heartbeated.

Life of a job: the API inserts a *queued* row (the partial unique index on
training_jobs refuses a second open one, whichever process or host asks), commits,
and puts the job on the task queue (moderation.taskqueue). A worker thread claims the
row (*running*), beats its heartbeat every JOB_HEARTBEAT_SECONDS while it trains, and
ends it *succeeded* (with the version it stored) or *failed* (with the error). A job
whose heartbeat is older than JOB_STALE_SECONDS (or a job still queued after
JOB_QUEUED_SECONDS) lost its runner (a crash, a restart, a killed host): whoever looks
next (the API, the admin page, a new runner, an app starting) marks it failed, and a
runner that wakes up afterwards finds its row no longer its own and stores nothing.

Runners (JOB_RUNNER): "queue" (default) runs it on a thread of `flask worker` (huey),
niced, with one BLAS/OpenMP thread, so on a 2-core host training takes one core at low
priority and never runs in a web process; "none" leaves it queued for
`flask admin run-job` (cron, a scheduler, a dedicated host).
"""

from moderation.jobs.records import OPEN
from moderation.jobs.records import Limits
from moderation.jobs.records import Runner
from moderation.jobs.records import create_job
from moderation.jobs.records import fail_stale_jobs
from moderation.jobs.records import get_job
from moderation.jobs.records import init_app
from moderation.jobs.records import job_busy
from moderation.jobs.records import list_jobs
from moderation.jobs.records import look_at_jobs
from moderation.jobs.records import open_job
from moderation.jobs.records import sweep_stale_jobs
from moderation.jobs.runner import claim
from moderation.jobs.runner import run_job
from moderation.jobs.runner import run_next
from moderation.jobs.runner import start_runner

__all__ = [
    "OPEN",
    "Limits",
    "Runner",
    "claim",
    "create_job",
    "fail_stale_jobs",
    "get_job",
    "init_app",
    "job_busy",
    "list_jobs",
    "look_at_jobs",
    "open_job",
    "run_job",
    "run_next",
    "start_runner",
    "sweep_stale_jobs",
]
