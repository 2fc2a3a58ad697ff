"""Admin routes for training jobs."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import url_for

from moderation import jobs
from moderation.admin.actions import TrainingJobIn
from moderation.admin.actions import queue_training_job
from moderation.api.admin.helpers import PREFIX
from moderation.api.admin.helpers import actor
from moderation.api.admin.helpers import json_body
from moderation.api.admin.schemas import TrainingJobList
from moderation.api.admin.schemas import job_out
from moderation.api.views import bp
from moderation.auth import require_role
from moderation.db import get_session
from moderation.schemas import validate_model
from moderation.tables import Role


@bp.post(f"{PREFIX}/training-jobs")
@require_role(Role.ADMIN)
def create_training_job() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Queue a retraining (202 with its Location; 409 while another job is open)."""
    body = validate_model(TrainingJobIn, json_body())
    session = get_session()
    job = queue_training_job(session, body, actor())
    session.commit()
    jobs.start_runner(current_app._get_current_object(), job.id)
    location = url_for("api.get_training_job", job_id=job.id)
    return job_out(job).model_dump(mode="json"), 202, {"Location": location}


@bp.get(f"{PREFIX}/training-jobs")
@require_role(Role.ADMIN)
def list_training_jobs() -> dict[str, Any]:
    """Return the latest training jobs, newest first."""
    session = get_session()
    jobs.look_at_jobs(current_app._get_current_object(), session)
    items = [job_out(job) for job in jobs.list_jobs(session)]
    return TrainingJobList(items=items).model_dump(mode="json")


@bp.get(f"{PREFIX}/training-jobs/<int:job_id>")
@require_role(Role.ADMIN)
def get_training_job(job_id: int) -> dict[str, Any]:
    """Return a job's status, log and the version it produced."""
    session = get_session()
    jobs.look_at_jobs(current_app._get_current_object(), session)
    return job_out(jobs.get_job(session, job_id)).model_dump(mode="json")
