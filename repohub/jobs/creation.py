"""Creating jobs for a commit and a spec, once: the unique key makes triggers idempotent.

Pushes (the post-receive hook) and manual runs (the API, the web) both come through here.
A job is a row; the scheduler hands queued rows to Celery after they are committed, so a
worker never looks for a job that does not exist yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from repohub.db.jobs import Job
from repohub.db.models import Repo
from repohub.jobs import spec as specs

KINDS = ("train", "eval")
AB = "ab"  # an A/B evaluation: two revisions' weights on one dataset revision


@dataclass(frozen=True)
class Created:
    job: Job
    new: bool  # False: the same work (network, commit, spec, kind) already had a job


@dataclass(frozen=True)
class Request:
    repo: Repo
    commit: str
    spec: dict[str, Any]
    user_id: int | None
    trigger: str  # push | manual
    ref: str | None = None
    priority: int = 0


def create_jobs(
    session: Session, request: Request, kinds: tuple[str, ...] = KINDS
) -> list[Created]:
    """A train job if the spec trains, then an eval job that waits for it if it evaluates."""
    created: list[Created] = []
    train: Job | None = None
    if "train" in kinds and "train" in request.spec:
        first = _create(session, request, "train", None)
        created.append(first)
        train = first.job
    if "eval" in kinds and "eval" in request.spec:
        created.append(_create(session, request, "eval", train))
    return created


def create_ab(session: Session, request: Request) -> Created:
    """One A/B job on the head commit; its spec names both sides and the dataset, so the
    unique key runs the same comparison once."""
    return _create(session, request, AB, None)


def _create(session: Session, request: Request, kind: str, after: Job | None) -> Created:
    digest = specs.spec_hash(request.spec)
    existing = find(session, request.repo.network_id, request.commit, digest, kind)
    if existing is not None:
        return Created(existing, False)
    job = Job(
        kind=kind,
        repo_id=request.repo.id,
        network_id=request.repo.network_id,
        commit_sha=request.commit,
        ref=request.ref,
        spec_hash=digest,
        spec=request.spec,
        user_id=request.user_id,
        trigger=request.trigger,
        state="queued",
        queue=specs.queue_of(request.spec),
        priority=request.priority,
        depends_on_id=after.id if after is not None else None,
        max_attempts=0,
        progress={},
        error="",
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:  # a concurrent trigger inserted the same work first
        raced = find(session, request.repo.network_id, request.commit, digest, kind)
        assert raced is not None
        return Created(raced, False)
    return Created(job, True)


def find(session: Session, network_id: int, commit: str, digest: str, kind: str) -> Job | None:
    return session.scalar(
        select(Job).where(
            Job.network_id == network_id,
            Job.commit_sha == commit,
            Job.spec_hash == digest,
            Job.kind == kind,
        )
    )
