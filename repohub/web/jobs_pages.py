"""Job pages: a repo's jobs, one job (live curve and logs), a report with its charts.

Everything a page shows is in its HTML (tables, a progress bar, the log so far), so it works
without JavaScript; `/static/charts.js` turns the tables into interactive SVG charts and
follows a running job through the JSON API. These pages therefore allow same-origin scripts
and API calls in their Content-Security-Policy, and nothing else beyond the site's own.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Form
from fastapi.responses import Response
from fastapi.routing import APIRoute

from repohub.errors import Unauthenticated
from repohub.eval.report import compare
from repohub.jobs import publish as publishing
from repohub.jobs import service
from repohub.repos.access import Access
from repohub.repos.limits import DbId
from repohub.web.browse import header_only
from repohub.web.context import Page, current_page
from repohub.web.errors import HtmlRoute
from repohub.web.forms import checked_page

# Not `routes.common.page_router`: the pages in `web.routes` import this module (its policy,
# its marks), so it must not import that package. `install` makes every route an HtmlRoute.
router = APIRouter(include_in_schema=False)
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
MARKS = {"queued": "queued", "running": "running", "succeeded": "passed", "failed": "failed"}


def install(app: FastAPI) -> None:
    """Add the pages ahead of the web's `/{owner}/{name}/...` catch-all routes."""
    for route in router.routes:
        assert isinstance(route, APIRoute)
        app.router.add_api_route(
            route.path,
            route.endpoint,
            methods=list(route.methods or ()),
            name=route.name,
            include_in_schema=False,
            route_class_override=HtmlRoute,
        )


def require_login(page: Page) -> None:
    if page.identity.user_id is None:
        raise Unauthenticated("Log in to continue")


def _render(page: Page, template: str, **context: Any) -> Response:
    response = page.render(template, marks=MARKS, **context)
    response.headers["Content-Security-Policy"] = CSP
    return response


@router.get("/{owner}/{name}/jobs")
def jobs_list(
    owner: str, name: str, state: str | None = None, page: Page = Depends(current_page)
) -> Response:
    key = service.model_key(owner, name)
    header = header_only(page.hub, page.identity, key)
    with page.hub.sessions() as session:
        _, jobs = service.list_jobs(session, page.identity, key, state=state or None, limit=100)
        users = service.user_names(session, jobs)
        reports = {j.id: service.job_report(session, j.id) for j in jobs}
    return _render(
        page, "jobs/list.html", header=header, tab="jobs", jobs=jobs, users=users, reports=reports
    )


@router.post("/{owner}/{name}/jobs")
def start_job(
    owner: str,
    name: str,
    kind: str = Form("train"),
    revision: str = Form(""),
    page: Page = Depends(checked_page),
) -> Response:
    require_login(page)
    ask = service.StartRequest(kind, revision or None)
    created = service.start(page.hub, page.identity, service.model_key(owner, name), ask)
    return page.redirect(f"/jobs/{created[0].job.id}")


@router.get("/jobs/{job_id}")
def job_page(job_id: DbId, page: Page = Depends(current_page)) -> Response:
    with page.hub.sessions() as session:
        job, repo = service.get_job(session, page.identity, job_id, Access.READ)
        full_name, user = repo.full_name, service.user_names(session, [job]).get(job.user_id or 0)
        can_write = _can_write(session, page, repo)
        lines = service.log_lines(session, job_id)
        curves = service.curves(session, job_id)
        report = service.job_report(session, job_id)
    return _render(
        page,
        "jobs/job.html",
        job=job,
        repo=full_name,
        user=user,
        can_write=can_write,
        lines=lines,
        cursor=lines[-1].id if lines else 0,
        curves=curves,
        report=report,
        spec=json.dumps(job.spec, indent=2),
    )


def _can_write(session: Any, page: Page, repo: Any) -> bool:
    from repohub.repos.access import access_level

    return page.identity.can_write and access_level(session, page.identity, repo) >= Access.WRITE


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: DbId, page: Page = Depends(checked_page)) -> Response:
    require_login(page)
    service.cancel(page.hub, page.identity, job_id)
    return page.redirect(f"/jobs/{job_id}")


@router.post("/jobs/{job_id}/retry")
def retry(job_id: DbId, page: Page = Depends(checked_page)) -> Response:
    require_login(page)
    service.retry(page.hub, page.identity, job_id)
    return page.redirect(f"/jobs/{job_id}")


@router.post("/jobs/{job_id}/publish")
def publish(
    job_id: DbId, branch: str = Form("main"), page: Page = Depends(checked_page)
) -> Response:
    require_login(page)
    done = publishing.publish(page.hub, page.identity, job_id, branch=branch.strip())
    with page.hub.sessions() as session:
        _, repo = service.get_job(session, page.identity, job_id, Access.READ)
        base = repo.full_name
    return page.redirect(f"/{base}/commit/{done.commit}")


@router.get("/jobs/{job_id}/report")
def report_page(job_id: DbId, page: Page = Depends(current_page)) -> Response:
    with page.hub.sessions() as session:
        job, repo = service.get_job(session, page.identity, job_id, Access.READ)
        report = service.job_report(session, job_id)
        full_name, can_write = repo.full_name, _can_write(session, page, repo)
        base = _previous_report(session, page, repo, job)
    if report is None:
        return page.redirect(f"/jobs/{job_id}")
    data = report.data
    return _render(
        page,
        "jobs/report.html",
        job=job,
        repo=full_name,
        report=report,
        data=data,
        can_write=can_write,
        heat=_heat(data.get("confusion_matrix", {}).get("matrix", [])),
        base=base,
        changes=compare(base.data, data) if base is not None else [],
    )


def _previous_report(session: Any, page: Page, repo: Any, job: Any) -> Any:
    """The report of the newest earlier job of the same kind on the repo: what to compare to."""
    _, jobs = service.list_jobs(
        session, page.identity, service.model_key(repo.owner.name, repo.name), limit=200
    )
    for earlier in jobs:
        if earlier.id < job.id and earlier.kind == job.kind and earlier.state == "succeeded":
            return service.job_report(session, earlier.id)
    return None


def _heat(matrix: list[list[int]]) -> list[list[int]]:
    """Each cell's share of its row (its true class), in tenths: CSS classes `heat-0..10`."""
    shades = []
    for row in matrix:
        total = sum(row) or 1
        shades.append([round(10 * value / total) for value in row])
    return shades


def commit_marks(
    page: Page, repo_type: str, owner: str, name: str, shas: list[str]
) -> dict[str, Any]:
    """For commit pages: each commit's jobs as (kind, mark, id), read through the access check.
    `jobs/marks.html` renders them; the commit list and commit page include it."""
    if repo_type != "model":
        return {}
    with page.hub.sessions() as session:
        from repohub.repos.service import get_repo

        repo = get_repo(session, page.identity, service.model_key(owner, name), Access.READ)
        found = service.marks_for_commits(session, repo, shas)
    return {
        sha: [(j.kind, MARKS.get(j.state, j.state), j.id) for j in jobs]
        for sha, jobs in found.items()
    }
