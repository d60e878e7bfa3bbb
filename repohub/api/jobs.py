"""The jobs API: start, list, read, follow, cancel, retry and publish jobs; read reports.

Thin: parse, call `repohub.jobs`, render. Shapes use camelCase like the rest of the Hub API.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import ConfigDict, Field
from sqlalchemy.orm import Session

from repohub.api.bodies import BodyModel, DbInt
from repohub.api.deps import get_hub, get_identity, get_session
from repohub.api.hubjson import hub_date
from repohub.auth.identity import Identity
from repohub.db.jobs import Job, Report
from repohub.db.models import Repo
from repohub.errors import NotFound
from repohub.jobs import publish as publishing
from repohub.jobs import service
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.limits import INT64_MAX, DbId

router = APIRouter(prefix="/api", tags=["jobs"])
CHUNK = 1024 * 1024


class StartJob(BodyModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["train", "eval"] = "train"
    revision: str | None = None
    overrides: dict[str, Any] | None = None
    dataset: str | None = Field(default=None, description="eval: a dataset repo owner/name[@rev]")
    priority: DbInt = 0


class PublishJob(BodyModel):
    model_config = ConfigDict(extra="forbid")

    branch: str = "main"
    path: str = "model.safetensors"
    message: str | None = None


def _date(value: Any) -> str | None:
    return hub_date(value) if value is not None else None


def job_json(job: Job, repo: Repo, user: str | None, *, full: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind,
        "repo": repo.full_name,
        "commit": job.commit_sha,
        "ref": job.ref,
        "state": job.state,
        "queue": job.queue,
        "priority": job.priority,
        "trigger": job.trigger,
        "user": user,
        "dependsOn": job.depends_on_id,
        "specHash": job.spec_hash,
        "attempts": job.attempts,
        "cancelRequested": job.cancel_requested,
        "workerHost": job.worker_host,
        "workerPid": job.worker_pid,
        "progress": job.progress or {},
        "error": job.error or None,
        "waitingReason": (job.waiting_reason or None) if job.state == "queued" else None,
        "createdAt": _date(job.created_at),
        "startedAt": _date(job.started_at),
        "heartbeatAt": _date(job.heartbeat_at),
        "finishedAt": _date(job.finished_at),
        "urls": {
            "self": f"/api/jobs/{job.id}",
            "logs": f"/api/jobs/{job.id}/logs",
            "report": f"/api/jobs/{job.id}/report",
            "page": f"/jobs/{job.id}",
        },
    }
    if full:
        shape["spec"] = job.spec
    return shape


def report_json(report: Report, *, full: bool = True) -> dict[str, Any]:
    shape = {
        "id": report.id,
        "job": report.job_id,
        "kind": report.kind,
        "commit": report.commit_sha,
        "specHash": report.spec_hash,
        "headline": report.headline,
        "createdAt": hub_date(report.created_at),
        "weights": {"oid": report.weights_oid, "size": report.weights_size}
        if report.weights_oid
        else None,
    }
    if full:
        shape["report"] = report.data
    return shape


def _render(session: Session, jobs: list[Job], repo: Repo) -> list[dict[str, Any]]:
    names = service.user_names(session, jobs)
    return [job_json(j, repo, names.get(j.user_id or 0)) for j in jobs]


@router.post("/models/{owner}/{name}/jobs", status_code=201)
def start_job(
    owner: str,
    name: str,
    body: StartJob,
    hub: Hub = Depends(get_hub),
    identity: Identity = Depends(get_identity),
) -> JSONResponse:
    """Start a train or eval job of the spec at `revision` (default branch), with overrides.
    A job for the same work (commit, spec, kind) is answered with 200 instead of a second run."""
    ask = service.StartRequest(
        body.kind, body.revision, body.overrides, body.dataset, body.priority
    )
    created = service.start(hub, identity, service.model_key(owner, name), ask)
    with hub.sessions() as session:
        jobs = [session.get(Job, c.job.id) for c in created]
        repo = session.get(Repo, created[0].job.repo_id)
        assert repo is not None and all(jobs)
        shapes = _render(session, [j for j in jobs if j is not None], repo)
    status = 201 if any(c.new for c in created) else 200
    return JSONResponse({"jobs": shapes}, status_code=status)


@router.get("/models/{owner}/{name}/jobs")
def list_jobs(
    owner: str,
    name: str,
    commit: str | None = None,
    state: str | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=INT64_MAX),
    identity: Identity = Depends(get_identity),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    """The repo's jobs, newest first."""
    repo, jobs = service.list_jobs(
        session,
        identity,
        service.model_key(owner, name),
        commit=commit,
        state=state,
        limit=limit,
        offset=offset,
    )
    return _render(session, jobs, repo)


@router.get("/jobs/{job_id}")
def get_job(
    job_id: DbId,
    identity: Identity = Depends(get_identity),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    """The job with its live curves (points per step and per epoch so far)."""
    job, repo = service.get_job(session, identity, job_id, Access.READ)
    names = service.user_names(session, [job])
    return {
        **job_json(job, repo, names.get(job.user_id or 0), full=True),
        "metrics": service.curves(session, job_id),
    }


@router.get("/jobs/{job_id}/logs")
def job_logs(
    job_id: DbId,
    after: int = Query(
        0, ge=0, le=INT64_MAX, description="only lines after this cursor (X-Log-Cursor)"
    ),
    download: bool = False,
    identity: Identity = Depends(get_identity),
    session: Session = Depends(get_session),
) -> PlainTextResponse:
    """Log lines as text; follow a running job by passing back `X-Log-Cursor` as `after`."""
    service.get_job(session, identity, job_id, Access.READ)
    lines = service.log_lines(session, job_id, after)
    cursor = lines[-1].id if lines else after
    headers = {"X-Log-Cursor": str(cursor)}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="job-{job_id}.log"'
    return PlainTextResponse("".join(f"{line.line}\n" for line in lines), headers=headers)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(
    job_id: DbId, hub: Hub = Depends(get_hub), identity: Identity = Depends(get_identity)
) -> dict[str, Any]:
    job = service.cancel(hub, identity, job_id)
    return {"id": job.id, "state": job.state, "cancelRequested": job.cancel_requested}


@router.post("/jobs/{job_id}/retry")
def retry_job(
    job_id: DbId, hub: Hub = Depends(get_hub), identity: Identity = Depends(get_identity)
) -> dict[str, Any]:
    job = service.retry(hub, identity, job_id)
    return {"id": job.id, "state": job.state}


@router.get("/jobs/{job_id}/report")
def job_report(
    job_id: DbId,
    identity: Identity = Depends(get_identity),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    job, _ = service.get_job(session, identity, job_id, Access.READ)
    report = service.job_report(session, job_id)
    if report is None:
        raise NotFound(f"Job {job_id} has no report yet (it is {job.state})")
    return report_json(report)


@router.get("/jobs/{job_id}/weights")
def job_weights(
    job_id: DbId, hub: Hub = Depends(get_hub), identity: Identity = Depends(get_identity)
) -> StreamingResponse:
    """The trained weights (`.safetensors`), streamed from LFS storage."""
    with hub.sessions() as session:
        oid, size = service.weights_of(session, identity, job_id)
    stream = hub.lfs.open(oid)

    def chunks():  # type: ignore[no-untyped-def]
        with stream:
            while data := stream.read(CHUNK):
                yield data

    headers = {
        "Content-Length": str(size),
        "ETag": f'"{oid}"',
        "Content-Disposition": f'attachment; filename="job-{job_id}.safetensors"',
    }
    return StreamingResponse(chunks(), media_type="application/octet-stream", headers=headers)


@router.post("/jobs/{job_id}/publish")
def publish_job(
    job_id: DbId,
    body: PublishJob,
    hub: Hub = Depends(get_hub),
    identity: Identity = Depends(get_identity),
) -> dict[str, Any]:
    """Commit the weights and a `metrics` block in the model card to `branch`, as the caller."""
    done = publishing.publish(
        hub, identity, job_id, branch=body.branch, path=body.path, message=body.message
    )
    return {"commit": done.commit, "branch": done.branch, "path": done.path}


@router.get("/models/{owner}/{name}/reports/{revision:path}")
def commit_reports(
    owner: str,
    name: str,
    revision: str,
    full: bool = True,
    hub: Hub = Depends(get_hub),
    identity: Identity = Depends(get_identity),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    """The reports on a commit (a sha, a branch or a tag), newest first."""
    _, commit, reports = service.commit_reports(
        hub, session, identity, service.model_key(owner, name), revision
    )
    return {"commit": commit, "reports": [report_json(r, full=full) for r in reports]}
