"""The job state machine and the scheduler on a real (SQLite) database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from repohub.auth.accounts import create_user
from repohub.auth.identity import Identity
from repohub.config import Settings
from repohub.db.jobs import Job, JobWorker
from repohub.db.migrate import upgrade
from repohub.db.models import Repo, utcnow
from repohub.errors import Conflict
from repohub.jobs import states, workers
from repohub.jobs.creation import Request, create_jobs
from repohub.jobs.scheduler import Scheduler
from repohub.repos.context import Hub
from repohub.repos.service import create_repo

SPEC: dict[str, Any] = {"train": {"model": "smallcnn", "dataset": "a/d"}, "eval": {}}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    settings = Settings(data_dir=tmp_path, jobs_per_user=1, job_heartbeat_timeout=30)
    upgrade(settings.resolved_database_url)
    built = Hub.build(settings)
    _worker(built, "capable", ("cpu", "gpu"), None)
    yield built
    built.close()


def _worker(hub: Hub, name: str, queues: tuple[str, ...], reason: str | None) -> workers.Me:
    me = workers.Me(name, "host", 1, queues, reason)
    with hub.sessions.begin() as session:
        workers.announce(session, me)
    return me


def _user(hub: Hub, name: str) -> Identity:
    with hub.sessions.begin() as session:
        account = create_user(session, name, email=f"{name}@x.org", password="S3cret-pass")
        return Identity(account.id, name, False, "write")


def _jobs(hub: Hub, who: Identity, repo: Repo, commit: str, **extra: Any) -> list[Job]:
    spec = {**SPEC, **extra.pop("spec", {})}
    with hub.sessions.begin() as session:
        request = Request(repo, commit, spec, who.user_id, "push", **extra)
        return [c.job for c in create_jobs(session, request)]


class Sent(list):  # type: ignore[type-arg]
    def __call__(self, job_id: int, token: str, queue: str, priority: int) -> None:
        self.append((job_id, token, queue, priority))


def _job(hub: Hub, job_id: int) -> Job:
    with hub.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_the_same_work_is_one_job(hub: Hub) -> None:
    alice = _user(hub, "alice")
    repo = create_repo(hub, alice, name="cnn", empty=True)
    first = _jobs(hub, alice, repo, "a" * 40)
    again = _jobs(hub, alice, repo, "a" * 40, ref="refs/heads/exp/x")
    assert [j.id for j in first] == [j.id for j in again]
    assert first[1].depends_on_id == first[0].id, "eval waits for train"
    other = _jobs(hub, alice, repo, "a" * 40, spec={"train": {"model": "unet", "dataset": "a/d"}})
    assert other[0].id not in {j.id for j in first}


def test_dispatch_order_limits_and_dependencies(hub: Hub) -> None:
    alice, bob = _user(hub, "alice"), _user(hub, "bob")
    repo = create_repo(hub, alice, name="cnn", empty=True)
    low = _jobs(hub, alice, repo, "1" * 40)
    high = _jobs(hub, alice, repo, "2" * 40, priority=5)
    bobs = _jobs(hub, bob, repo, "3" * 40)
    sent = Sent()
    Scheduler(hub, sent, "test").tick()
    assert [s[0] for s in sent] == [high[0].id, bobs[0].id], "one slot per user, priority first"
    job_id, token = sent[0][0], sent[0][1]
    with hub.sessions.begin() as session:
        assert not states.claim(session, job_id, "stale-token", "host", 1)
        assert states.claim(session, job_id, token, "host", 1)
    Scheduler(hub, sent, "test").tick()
    assert len(sent) == 2, "alice's slot is taken while her job runs"
    with hub.sessions.begin() as session:
        assert states.finish(session, job_id, token, states.FAILED, "boom")
    Scheduler(hub, sent, "test").tick()
    assert sent[2][0] == low[0].id
    assert _job(hub, high[1].id).state == states.CANCELLED
    assert _job(hub, high[1].id).error == f"not run: its train job {high[0].id} failed: boom"


def test_a_second_scheduler_waits_for_the_lease(hub: Hub) -> None:
    alice = _user(hub, "alice")
    repo = create_repo(hub, alice, name="cnn", empty=True)
    _jobs(hub, alice, repo, "1" * 40)
    first, second = Sent(), Sent()
    Scheduler(hub, first, "one").tick()
    Scheduler(hub, second, "two").tick()
    assert len(first) == 1 and not second


def _running(hub: Hub) -> tuple[Job, str]:
    alice = _user(hub, "alice")
    repo = create_repo(hub, alice, name="cnn", empty=True)
    job = _jobs(hub, alice, repo, "1" * 40)[0]
    sent = Sent()
    Scheduler(hub, sent, "test").tick()
    token = sent[0][1]
    with hub.sessions.begin() as session:
        assert states.claim(session, job.id, token, "host", 1)
    return job, token


def _silence(hub: Hub, job_id: int) -> None:
    with hub.sessions.begin() as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - timedelta(minutes=5))
        )


def test_a_lost_worker_is_retried_then_failed(hub: Hub) -> None:
    job, _ = _running(hub)
    _silence(hub, job.id)
    sent = Sent()
    Scheduler(hub, sent, "test").tick()
    assert _job(hub, job.id).state == states.QUEUED
    assert [s[0] for s in sent] == [job.id], "queued again and dispatched at once"
    with hub.sessions.begin() as session:
        assert states.claim(session, job.id, sent[0][1], "host", 2)
    _silence(hub, job.id)
    Scheduler(hub, sent, "test").tick()
    lost = _job(hub, job.id)
    assert (lost.state, lost.attempts) == (states.FAILED, 2)
    assert "no heartbeat since" in lost.error


def test_cancel_and_retry(hub: Hub) -> None:
    job, token = _running(hub)
    with hub.sessions.begin() as session:
        states.request_cancel(session, _job(hub, job.id))
        beat = states.beat(session, job.id, token, {"step": 1})
    assert beat.alive and beat.cancel
    with hub.sessions.begin() as session:
        assert states.finish(session, job.id, token, states.CANCELLED)
    with hub.sessions.begin() as session, pytest.raises(Conflict):
        states.request_cancel(session, _job(hub, job.id))
    with hub.sessions.begin() as session:
        states.retry(session, _job(hub, job.id), 2)
    again = _job(hub, job.id)
    assert (again.state, again.max_attempts, again.cancel_requested) == ("queued", 3, False)
    with hub.sessions.begin() as session, pytest.raises(Conflict, match="only failed or cancelled"):
        states.retry(session, again, 2)


def test_jobs_waiting_for_a_gpu_do_not_hold_the_users_cpu_slot(hub: Hub) -> None:
    alice = _user(hub, "alice")
    repo = create_repo(hub, alice, name="cnn", empty=True)
    gpu = {"train": {"model": "smallcnn", "dataset": "a/d", "resources": {"queue": "gpu"}}}
    waiting = _jobs(hub, alice, repo, "1" * 40, spec=gpu)
    cpu = _jobs(hub, alice, repo, "2" * 40)
    sent = Sent()
    Scheduler(hub, sent, "test").tick()
    assert [(s[0], s[2]) for s in sent] == [(waiting[0].id, "gpu"), (cpu[0].id, "cpu")]


NO_TORCH = "torch is not installed (install RepoHub with the `train` extra)"


def test_a_job_no_live_worker_can_run_waits_queued_saying_why(hub: Hub) -> None:
    alice = _user(hub, "alice")
    repo = create_repo(hub, alice, name="cnn", empty=True)
    with hub.sessions.begin() as session:
        workers.retire(session, "capable")
    _worker(hub, "notorch", ("cpu",), NO_TORCH)
    train = _jobs(hub, alice, repo, "3" * 40)[0]
    sent = Sent()
    Scheduler(hub, sent, "test").tick()
    waiting = _job(hub, train.id)
    assert sent == [] and waiting.state == "queued" and waiting.dispatched_at is None
    assert waiting.waiting_reason == f"no worker can run training jobs: notorch: {NO_TORCH}"

    stale = _worker(hub, "capable-but-dead", ("cpu",), None)
    with hub.sessions.begin() as session:
        session.execute(
            update(JobWorker)
            .where(JobWorker.name == stale.name)
            .values(seen_at=utcnow() - timedelta(seconds=31))
        )
    gpu_only = {"train": {"model": "smallcnn", "dataset": "a/d", "resources": {"queue": "gpu"}}}
    on_gpu = _jobs(hub, alice, repo, "4" * 40, spec=gpu_only)[0]
    Scheduler(hub, sent, "test").tick()
    assert sent == [], "a worker that stopped beating counts for nothing"
    assert _job(hub, on_gpu.id).waiting_reason == (
        "no worker can run training jobs: no live worker takes jobs from the gpu queue"
    )

    _worker(hub, "capable", ("cpu",), None)
    Scheduler(hub, sent, "test").tick()
    assert [s[0] for s in sent] == [train.id]
    assert _job(hub, train.id).waiting_reason == "", "dispatched: nothing holds it back"
    assert _job(hub, on_gpu.id).dispatched_at is None
