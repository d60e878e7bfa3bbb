"""The job state machine, as compare-and-swap updates on the `jobs` row.

    queued --claim--> running --finish--> succeeded | failed | cancelled
      |                  |--lost (reaper)--> queued (another attempt) | failed
      '--cancel--> cancelled        failed | cancelled --retry--> queued

Every transition is an `UPDATE ... WHERE state = :expected [AND dispatch_token = :token]` that
must hit exactly one row, so two workers, a reaper and a user clicking cancel can race and
only one of them wins. Callers own the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from repohub.db.jobs import Job
from repohub.db.models import utcnow
from repohub.errors import Conflict

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
FINAL = (SUCCEEDED, FAILED, CANCELLED)
STATES = (QUEUED, RUNNING, *FINAL)


def _cas(session: Session, job_id: int, where: list[Any], **values: Any) -> bool:
    result = session.execute(update(Job).where(Job.id == job_id, *where).values(**values))
    return result.rowcount == 1  # type: ignore[attr-defined]


def dispatch(session: Session, job_id: int, token: str) -> bool:
    """Mark a queued job as handed to the broker under `token`."""
    return _cas(
        session,
        job_id,
        [Job.state == QUEUED, Job.dispatched_at.is_(None)],
        dispatched_at=utcnow(),
        dispatch_token=token,
        waiting_reason="",
    )


def set_waiting(session: Session, job_id: int, reason: str) -> None:
    """Say why a queued job is not dispatched ("" once nothing holds it back)."""
    _cas(session, job_id, [Job.state == QUEUED], waiting_reason=reason)


def undispatch(session: Session, job_id: int, token: str) -> None:
    """The broker refused the message: let the next scheduler pass try again."""
    _cas(
        session,
        job_id,
        [Job.state == QUEUED, Job.dispatch_token == token],
        dispatched_at=None,
        dispatch_token=None,
    )


def claim(session: Session, job_id: int, token: str, host: str, pid: int) -> bool:
    """A worker starts the job; a stale or duplicated message (other token) claims nothing."""
    now = utcnow()
    return _cas(
        session,
        job_id,
        [Job.state == QUEUED, Job.dispatch_token == token, Job.cancel_requested.is_(False)],
        state=RUNNING,
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        attempts=Job.attempts + 1,
        worker_host=host[:255],
        worker_pid=pid,
        progress={},
        error="",
    )


@dataclass(frozen=True)
class Beat:
    alive: bool  # False: the job is no longer ours (reaped, or finished by someone else)
    cancel: bool


def beat(session: Session, job_id: int, token: str, progress: dict[str, Any] | None) -> Beat:
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = progress
    alive = _cas(session, job_id, [Job.state == RUNNING, Job.dispatch_token == token], **values)
    cancel = bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))
    return Beat(alive, cancel)


def finish(session: Session, job_id: int, token: str, state: str, error: str = "") -> bool:
    assert state in FINAL
    return _cas(
        session,
        job_id,
        [Job.state == RUNNING, Job.dispatch_token == token],
        state=state,
        finished_at=utcnow(),
        error=error[:20000],
    )


def fail_queued(session: Session, job_id: int, state: str, error: str) -> bool:
    """End a job that never ran (bad spec found at dispatch, failed dependency)."""
    return _cas(
        session, job_id, [Job.state == QUEUED], state=state, finished_at=utcnow(), error=error
    )


def request_cancel(session: Session, job: Job) -> None:
    """A queued job ends now; a running one is flagged and its worker kills the run."""
    if job.state == QUEUED and fail_queued(session, job.id, CANCELLED, "cancelled"):
        return
    if job.state == RUNNING and _cas(
        session, job.id, [Job.state == RUNNING], cancel_requested=True
    ):
        return
    raise Conflict(f"job {job.id} is {job.state} and cannot be cancelled")


def retry(session: Session, job: Job, extra_attempts: int) -> None:
    if job.state not in (FAILED, CANCELLED):
        raise Conflict(f"job {job.id} is {job.state}: only failed or cancelled jobs are retried")
    if not _cas(
        session,
        job.id,
        [Job.state == job.state],
        state=QUEUED,
        cancel_requested=False,
        dispatched_at=None,
        dispatch_token=None,
        max_attempts=job.attempts + extra_attempts,
        finished_at=None,
        error="",
    ):
        raise Conflict(f"job {job.id} changed while retrying it: reload and try again")


def lost(session: Session, job: Job, seen: datetime, default_attempts: int) -> str:
    """The worker of a running job stopped beating: run it again while attempts remain."""
    message = f"worker {job.worker_host} lost: no heartbeat since {seen:%Y-%m-%d %H:%M:%S} UTC"
    where = [Job.state == RUNNING, Job.heartbeat_at == seen]
    if job.cancel_requested:
        _cas(session, job.id, where, state=CANCELLED, finished_at=utcnow(), error=message)
        return CANCELLED
    if job.attempts < (job.max_attempts or default_attempts):
        _cas(
            session,
            job.id,
            where,
            state=QUEUED,
            dispatched_at=None,
            dispatch_token=None,
            error=message,
        )
        return QUEUED
    _cas(session, job.id, where, state=FAILED, finished_at=utcnow(), error=message)
    return FAILED
