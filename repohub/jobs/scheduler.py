"""The scheduler: hands queued jobs to Celery in priority order and reaps lost workers.

It runs in every worker process, but only the holder of a short database lease acts, so
per-user limits and priorities are applied by one scheduler at a time however many workers
there are. Each pass:

1. reaps running jobs whose heartbeat stopped (a killed worker): they run again while
   attempts remain, else fail;
2. settles jobs that wait for another job (an eval after its train) once that one ended;
3. dispatches queued jobs, highest priority first, while their user has fewer than
   `jobs_per_user` jobs running or dispatched on that resource class, to its Celery queue,
   if a live worker that can run jobs takes from that queue (see `workers`); a job no such
   worker could take stays queued, its `waiting_reason` saying why, not sent to be lost.

Celery never decides anything: a message carries a job id and a dispatch token, and a worker
runs the job only if it can claim the row with that token.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from repohub.db.jobs import Job, JobLogLine, SchedulerLease
from repohub.db.models import utcnow
from repohub.jobs import states, workers
from repohub.jobs.wakeup import Waiter
from repohub.repos.context import Hub

logger = logging.getLogger(__name__)
Send = Callable[[int, str, str, int], None]  # job id, dispatch token, queue, priority
LEASE = "scheduler"
# A holder renews once every half lease: on SQLite every write takes the database's one write
# lock, which every other writer then waits for, so an idle scheduler writes twice a minute.
# A dead holder's lease passes to another worker after a minute; a worker that `serve`
# restarts keeps its holder name and takes its lease back at once.
LEASE_TIME = timedelta(seconds=60)
RENEW_BEFORE = timedelta(seconds=30)
REDISPATCH_AFTER = timedelta(minutes=10)  # a message lost with its worker is sent again
BATCH = 100
SWEEP_EVERY = 1.0  # seconds between reaping passes


class Scheduler:
    def __init__(self, hub: Hub, send: Send, holder: str) -> None:
        self.hub = hub
        self.send = send
        self.holder = holder[:64]
        self.settings = hub.settings
        self._lease_until: datetime | None = None
        self._next_sweep = 0.0

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set; an error is logged and the next pass retries."""
        waiter = Waiter(self.settings.data_dir.resolve())
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not end scheduling for good
                logger.exception("scheduler pass failed")
            waiter.wait(self.settings.scheduler_interval, stop)

    def tick(self) -> None:
        if not self._hold_lease():
            return
        now = time.monotonic()
        if now >= self._next_sweep:  # lost workers and dead dependencies need no hurry
            self.reap()
            self.settle_dependents()
            self._next_sweep = now + SWEEP_EVERY
        self.dispatch()

    def _hold_lease(self) -> bool:
        """Hold the lease (see LEASE_TIME); False while another live scheduler holds it."""
        now = utcnow()
        if self._lease_until is not None and now < self._lease_until - RENEW_BEFORE:
            return True
        until = now + LEASE_TIME
        with self.hub.sessions.begin() as session:
            taken = session.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == LEASE,
                    or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=until)
            ).rowcount
            exists = taken or session.get(SchedulerLease, LEASE) is not None
        if not taken and not exists:
            try:
                with self.hub.sessions.begin() as session:
                    session.add(SchedulerLease(name=LEASE, holder=self.holder, expires_at=until))
                taken = 1
            except IntegrityError:
                taken = 0
        self._lease_until = until if taken else None
        return bool(taken)

    def reap(self) -> None:
        limit = utcnow() - timedelta(seconds=self.settings.job_heartbeat_timeout)
        with self.hub.sessions.begin() as session:
            stale = session.scalars(
                select(Job).where(Job.state == states.RUNNING, Job.heartbeat_at < limit)
            ).all()
            for job in stale:
                assert job.heartbeat_at is not None
                outcome = states.lost(
                    session, job, job.heartbeat_at, self.settings.job_max_attempts
                )
                note = {"queued": "queued again", "failed": "failed", "cancelled": "cancelled"}
                line = f"worker {job.worker_host} stopped answering; the job is {note[outcome]}"
                session.add(JobLogLine(job_id=job.id, line=line))
                logger.warning("job %d: %s", job.id, line)

    def settle_dependents(self) -> None:
        """Waiting jobs whose prerequisite ended without success will never run: end them."""
        before = aliased(Job)
        with self.hub.sessions.begin() as session:
            rows = session.execute(
                select(Job.id, before.id, before.kind, before.state, before.error)
                .join(before, Job.depends_on_id == before.id)
                .where(
                    Job.state == states.QUEUED, before.state.in_([states.FAILED, states.CANCELLED])
                )
            ).all()
            for job_id, before_id, kind, state, error in rows:
                states.fail_queued(
                    session, job_id, states.CANCELLED, _not_run(kind, before_id, state, error)
                )

    def dispatch(self) -> None:
        sent = 0
        for job_id, queue, priority, token in self._choose():
            try:
                self.send(job_id, token, queue, priority)
                sent += 1
            except Exception:  # broker down: the job stays queued and is tried again
                logger.exception("could not send job %d to the broker", job_id)
                with self.hub.sessions.begin() as session:
                    states.undispatch(session, job_id, token)
        if sent:
            logger.info("dispatched %d job(s)", sent)

    def _choose(self) -> list[tuple[int, str, int, str]]:
        """Mark the jobs to send now (committed before any message leaves)."""
        before = aliased(Job)
        now = utcnow()
        with self.hub.sessions.begin() as session:
            busy = _busy_per_user(session)
            candidates = session.scalars(
                select(Job)
                .outerjoin(before, Job.depends_on_id == before.id)
                .where(
                    Job.state == states.QUEUED,
                    Job.cancel_requested.is_(False),
                    or_(Job.dispatched_at.is_(None), Job.dispatched_at < now - REDISPATCH_AFTER),
                    or_(Job.depends_on_id.is_(None), before.state == states.SUCCEEDED),
                )
                .order_by(Job.priority.desc(), Job.id.asc())
                .limit(BATCH)
            ).all()
            alive = workers.live(
                session, workers.liveness_window(self.settings.job_heartbeat_timeout)
            )
            reasons = workers.waiting_reasons(alive, {job.queue for job in candidates})
            chosen = []
            for job in candidates:
                if reasons[job.queue]:  # no worker could run it: it waits here, saying why
                    if job.waiting_reason != reasons[job.queue]:
                        states.set_waiting(session, job.id, reasons[job.queue])
                    continue
                resend = job.dispatched_at is not None  # its message was lost with a worker
                slot = (job.user_id, job.queue)
                full = job.user_id is not None and busy[slot] >= self.settings.jobs_per_user
                if full and not resend:
                    if job.waiting_reason:  # a worker is back; the user's own limit holds it
                        states.set_waiting(session, job.id, "")
                    continue
                if resend:
                    states.undispatch(session, job.id, job.dispatch_token or "")
                token = secrets.token_hex(16)
                if states.dispatch(session, job.id, token):
                    if job.user_id is not None and not resend:
                        busy[slot] += 1
                    chosen.append((job.id, job.queue, job.priority, token))
        return chosen


def _not_run(kind: str, before_id: int, state: str, error: str | None) -> str:
    """Why a dependent job never ran: its prerequisite and that one's own first line."""
    why = (error or "").strip().splitlines()[0][:300] if (error or "").strip() else ""
    return f"not run: its {kind} job {before_id} {state}" + (f": {why}" if why else "")


def _busy_per_user(session: Session) -> Counter[tuple[int | None, str]]:
    """Jobs per (user, queue) that hold a slot: running, or sent and not yet started. Per
    queue, so jobs waiting for a scarce GPU do not keep their user's CPU jobs waiting."""
    rows = session.execute(
        select(Job.user_id, Job.queue, func.count())
        .where(
            Job.user_id.is_not(None),
            or_(
                Job.state == states.RUNNING,
                (Job.state == states.QUEUED) & Job.dispatched_at.is_not(None),
            ),
        )
        .group_by(Job.user_id, Job.queue)
    ).all()
    return Counter({(user_id, queue): count for user_id, queue, count in rows})
