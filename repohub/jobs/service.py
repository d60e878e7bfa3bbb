"""Jobs as the API and the web see them: start, list, read, cancel, retry, reports.

Every read and write starts with the one access check on the job's model repo: reading a
job, its logs or its report needs read access (and a private repo's jobs answer 404 like
the repo itself); starting, cancelling, retrying and publishing need write access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from repohub.auth.identity import Identity
from repohub.db.jobs import Job, JobLogLine, JobMetric, Report
from repohub.db.models import Account, Repo
from repohub.errors import InvalidArgument, NotFound
from repohub.jobs import spec as specs
from repohub.jobs import states
from repohub.jobs.creation import Created, Request, create_jobs
from repohub.jobs.wakeup import poke
from repohub.repos import files
from repohub.repos.access import Access, require
from repohub.repos.context import Hub
from repohub.repos.reading import resolve_revision
from repohub.repos.service import RepoKey, get_repo

MAX_PRIORITY = 10


class JobNotFound(NotFound):
    """Also the answer for a job of a repo the caller cannot see, so ids leak nothing."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"Job {job_id} not found")


@dataclass(frozen=True)
class StartRequest:
    kind: str
    revision: str | None = None
    overrides: dict[str, Any] | None = None
    dataset: str | None = None  # eval: evaluate on this dataset repo instead
    priority: int = 0


def model_key(owner: str, name: str) -> RepoKey:
    return RepoKey("model", owner, name)


def start(hub: Hub, identity: Identity, key: RepoKey, ask: StartRequest) -> list[Created]:
    """A manual run of the spec at a revision, with optional overrides laid over it."""
    if ask.kind not in ("train", "eval"):
        raise InvalidArgument(f"kind: {ask.kind!r} is not one of: train, eval")
    if not -MAX_PRIORITY <= ask.priority <= MAX_PRIORITY:
        raise InvalidArgument(f"priority: must be between -{MAX_PRIORITY} and {MAX_PRIORITY}")
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.WRITE)
        store = hub.stores.get(repo.network_id)
        commit = resolve_revision(session, store, repo, ask.revision).decode()
        spec = specs.merge(_spec_at(hub, session, repo, commit), ask.overrides or {})
        if ask.dataset:
            spec = specs.merge(spec, {"eval": {"dataset": ask.dataset}})
        if ask.kind not in spec:
            raise InvalidArgument(
                f"{ask.kind}: the spec at {commit[:12]} has no {ask.kind} block "
                f"(add one to {specs.SPEC_FILE} or pass it in overrides)"
            )
        request = Request(repo, commit, spec, identity.user_id, "manual", priority=ask.priority)
        created = create_jobs(session, request, (ask.kind,))
        if ask.kind == "eval" and "train" in spec:
            _after_its_training(session, created[0], spec)
    poke(hub.settings.data_dir.resolve())
    return created


def _spec_at(hub: Hub, session: Session, repo: Repo, commit: str) -> dict[str, Any]:
    try:
        entry = files.read_entry(hub, session, repo, commit, specs.SPEC_FILE, lfs=False)
    except files.MissingEntry:
        return {}
    with files.open_bytes(hub, entry) as stream:
        return specs.load(stream.read())


def _after_its_training(session: Session, created: Created, spec: dict[str, Any]) -> None:
    """An eval of a commit whose training is still under way waits for it."""
    if not created.new:
        return
    job = created.job
    train = session.scalar(
        select(Job).where(
            Job.network_id == job.network_id,
            Job.commit_sha == job.commit_sha,
            Job.spec_hash == specs.spec_hash(spec),
            Job.kind == "train",
            Job.state.in_([states.QUEUED, states.RUNNING]),
        )
    )
    if train is not None:
        job.depends_on_id = train.id


def list_jobs(
    session: Session,
    identity: Identity,
    key: RepoKey,
    *,
    commit: str | None = None,
    state: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Repo, list[Job]]:
    repo = get_repo(session, identity, key, Access.READ)
    query = select(Job).where(Job.repo_id == repo.id)
    if commit:
        query = query.where(Job.commit_sha.startswith(commit.lower()))
    if state:
        if state not in states.STATES:
            raise InvalidArgument(f"state: {state!r} is not one of: {', '.join(states.STATES)}")
        query = query.where(Job.state == state)
    rows = session.scalars(query.order_by(Job.id.desc()).offset(offset).limit(min(limit, 200)))
    return repo, list(rows)


def get_job(session: Session, identity: Identity, job_id: int, needed: Access) -> tuple[Job, Repo]:
    job = session.get(Job, job_id)
    repo = session.get(Repo, job.repo_id) if job is not None else None
    if job is None or repo is None:
        raise JobNotFound(job_id)
    try:
        require(session, identity, repo, needed)
    except NotFound:
        raise JobNotFound(job_id) from None
    return job, repo


def user_names(session: Session, jobs: list[Job]) -> dict[int, str]:
    ids = {j.user_id for j in jobs if j.user_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(Account.id, Account.name).where(Account.id.in_(ids))).all())


def cancel(hub: Hub, identity: Identity, job_id: int) -> Job:
    with hub.sessions.begin() as session:
        job, _ = get_job(session, identity, job_id, Access.WRITE)
        states.request_cancel(session, job)
    return refreshed(hub, job_id)


def retry(hub: Hub, identity: Identity, job_id: int) -> Job:
    """Run a failed or cancelled job again; jobs that were waiting for it wait again."""
    with hub.sessions.begin() as session:
        job, _ = get_job(session, identity, job_id, Access.WRITE)
        states.retry(session, job, hub.settings.job_max_attempts)
        waiting = session.scalars(
            select(Job).where(Job.depends_on_id == job.id, Job.state == states.CANCELLED)
        )
        for dependent in waiting:
            if dependent.error.startswith("not run:"):
                states.retry(session, dependent, hub.settings.job_max_attempts)
        session.add(JobLogLine(job_id=job.id, line=f"retried by {identity.name}"))
    poke(hub.settings.data_dir.resolve())
    return refreshed(hub, job_id)


def refreshed(hub: Hub, job_id: int) -> Job:
    with hub.sessions() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job


def log_lines(
    session: Session, job_id: int, after: int = 0, limit: int = 10000
) -> list[JobLogLine]:
    return list(
        session.scalars(
            select(JobLogLine)
            .where(JobLogLine.job_id == job_id, JobLogLine.id > after)
            .order_by(JobLogLine.id)
            .limit(limit)
        )
    )


def curves(session: Session, job_id: int) -> dict[str, list[dict[str, Any]]]:
    """The live curves so far: points per step and per epoch, in order."""
    found: dict[str, list[dict[str, Any]]] = {"step": [], "epoch": []}
    for metric in session.scalars(
        select(JobMetric).where(JobMetric.job_id == job_id).order_by(JobMetric.id)
    ):
        found.setdefault(metric.scope, []).append(
            {"step": metric.step, "epoch": metric.epoch, **metric.values}
        )
    return found


def job_report(session: Session, job_id: int) -> Report | None:
    return session.scalar(select(Report).where(Report.job_id == job_id))


def commit_reports(
    hub: Hub, session: Session, identity: Identity, key: RepoKey, revision: str
) -> tuple[Repo, str, list[Report]]:
    """The reports on a commit (a sha or any revision), newest first."""
    repo = get_repo(session, identity, key, Access.READ)
    commit = resolve_revision(session, hub.stores.get(repo.network_id), repo, revision).decode()
    reports = session.scalars(
        select(Report)
        .where(Report.network_id == repo.network_id, Report.commit_sha == commit)
        .order_by(Report.id.desc())
    )
    return repo, commit, list(reports)


def weights_of(session: Session, identity: Identity, job_id: int) -> tuple[str, int]:
    """(oid, size) of a finished train job's weights."""
    get_job(session, identity, job_id, Access.READ)
    report = job_report(session, job_id)
    if report is None or report.weights_oid is None or report.weights_size is None:
        raise NotFound(f"Job {job_id} has no weights (yet)")
    return report.weights_oid, report.weights_size


def marks_for_commits(session: Session, repo: Repo, shas: list[str]) -> dict[str, list[Job]]:
    """The jobs on each commit, for status marks beside commits (queued, running, passed,
    failed); jobs of the whole fork network count, since they ran on the same objects."""
    if not shas:
        return {}
    found: dict[str, list[Job]] = {sha: [] for sha in shas}
    for job in session.scalars(
        select(Job)
        .where(Job.network_id == repo.network_id, Job.commit_sha.in_(shas))
        .order_by(Job.id)
    ):
        found[job.commit_sha].append(job)
    return found
