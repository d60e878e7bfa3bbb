"""The Celery application: broker, queues per resource class, and how a job is sent.

Production uses Redis (`REPOHUB_BROKER_URL=redis://...`; RabbitMQ works too). The embedded
default needs no outside service: kombu's filesystem transport, under the data directory,
which `repohub serve` and the worker beside it share. Celery carries only (job id, dispatch
token); results live in the database, so no result backend is configured.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from repohub.config import Settings
from repohub.jobs.spec import QUEUES

TASK_NAME = "repohub.run_job"
POLL_SECONDS = 0.25  # embedded broker: how often an idle worker looks for a message


def broker(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The broker URL and transport options the settings call for."""
    if settings.broker_url:
        options: dict[str, Any] = {
            "visibility_timeout": settings.job_time_limit + 3600,
            "queue_order_strategy": "priority",
            "priority_steps": list(range(10)),
        }
        if settings.broker_key_prefix:
            options["global_keyprefix"] = settings.broker_key_prefix
        return settings.broker_url, options
    root = settings.data_dir.resolve() / "broker"
    folders = {"queue": root / "queue", "control": root / "control"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return "filesystem://", {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
        "polling_interval": POLL_SECONDS,
    }


def make_celery(settings: Settings) -> Celery:
    url, options = broker(settings)
    app = Celery("repohub", set_as_current=False)
    app.conf.update(
        broker_url=url,
        broker_transport_options=options,
        broker_connection_retry_on_startup=True,
        task_queues=[Queue(name, routing_key=name) for name in QUEUES],
        task_default_queue="cpu",
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        worker_enable_remote_control=settings.broker_url is not None,
    )
    return app


def celery_priority(priority: int) -> int:
    """RepoHub priorities grow with urgency; Redis serves Celery priority 0 first."""
    return max(0, min(9, 4 - priority))


def sender(app: Celery):  # type: ignore[no-untyped-def]
    """The scheduler's `send`: one message per dispatch, on the job's resource queue."""

    def send(job_id: int, token: str, queue: str, priority: int) -> None:
        app.send_task(
            TASK_NAME,
            args=[job_id, token],
            queue=queue,
            routing_key=queue,
            priority=celery_priority(priority),
        )

    return send
