"""Models for training and evaluation jobs and their reports (issue: jobs).

The `jobs` table is the source of truth; Celery only carries a job's id to a worker. A job
is unique per (fork network, commit, spec hash, kind), so a second trigger for the same work
finds the first job instead of running it again. Live output (log lines, metric points) has
its own append-only tables, written in batches by the worker while the job runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from repohub.db.models import Base, utcnow


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("network_id", "commit_sha", "spec_hash", "kind"),
        Index("ix_jobs_repo_created", "repo_id", "created_at"),
        Index("ix_jobs_state_dispatched", "state", "dispatched_at"),
        Index("ix_jobs_network_commit", "network_id", "commit_sha"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # train | eval
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    commit_sha: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    spec_hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The user a job acts for: its dataset and init reads use this user's access.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    trigger: Mapped[str] = mapped_column(String(8))  # push | manual
    state: Mapped[str] = mapped_column(String(10), default="queued")
    queue: Mapped[str] = mapped_column(String(16), default="cpu")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    depends_on_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=0)  # 0: the workers' setting
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when a scheduler hands the job to Celery; the token travels in the message, so a
    # stale or duplicated message can never start a job twice.
    dispatch_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    worker_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    # Why a queued job is not sent to a worker yet (no live worker can run it); the scheduler
    # sets it and clears it when it dispatches the job.
    waiting_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class JobLogLine(Base):
    __tablename__ = "job_log_lines"
    __table_args__ = (Index("ix_job_log_lines_job_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    line: Mapped[str] = mapped_column(Text)


class JobMetric(Base):
    """One point of a live curve: per step (loss, batch accuracy, lr) or per epoch."""

    __tablename__ = "job_metrics"
    __table_args__ = (Index("ix_job_metrics_job_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(8))  # step | epoch
    step: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, float]] = mapped_column(JSON)


class Report(Base):
    """A finished job's report, stored against (repo network, commit, spec, kind)."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_network_commit", "network_id", "commit_sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    commit_sha: Mapped[str] = mapped_column(String(40))
    spec_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    headline: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    weights_oid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    weights_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SchedulerLease(Base):
    """Which worker schedules right now: one holder at a time, taken over once it expires,
    so per-user limits and priorities are applied by one process and not raced by many."""

    __tablename__ = "job_scheduler_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class JobWorker(Base):
    """A job worker that is (or lately was) alive, and what it can run: the scheduler sends
    jobs only to queues a live worker able to run them takes from, on whatever machine.

    A worker writes its row at start (after probing whether it can import torch), beats
    `seen_at` while it runs and deletes the row when it stops; a row not seen for a job
    heartbeat timeout belongs to a dead worker and counts for nothing."""

    __tablename__ = "job_workers"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[str] = mapped_column(String(255))  # comma-separated, as configured
    can_train: Mapped[bool] = mapped_column(Boolean)  # torch imports: it can run train/eval/ab
    reason: Mapped[str] = mapped_column(Text, default="")  # why it cannot, when it cannot
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
