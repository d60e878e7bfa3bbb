"""The Celery task: a message names a job and its dispatch token, nothing else.

Tasks take ids, are acknowledged late (a message whose worker died is delivered again, and
the token check drops it if the job was re-dispatched meanwhile), and run the job through
`repohub.jobs.run`, which enforces the run's time limit by killing its process.
"""

from __future__ import annotations

from celery import Celery

from repohub.jobs.celery_app import TASK_NAME
from repohub.jobs.run import execute
from repohub.repos.context import Hub


def register(app: Celery, hub: Hub) -> None:
    @app.task(name=TASK_NAME, acks_late=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def run_job(job_id: int, token: str) -> str | None:
        return execute(hub, job_id, token)
