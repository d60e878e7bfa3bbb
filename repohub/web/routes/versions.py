"""`/{owner}/{name}/versions`: every evaluated commit of every branch, its headline metrics,
a chart of each metric over history, and a form that compares any two of them.

Only commits reachable from this repo's own branches are listed, so the reports of forks in
the same network (which share commits and the reports table) never show here unless their
commits were merged. The form is a plain GET to `{repo}/compare?v=..&v=..`: it works
without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from dulwich.walk import ORDER_DATE, Walker
from fastapi import Depends
from fastapi.responses import Response

from repohub.jobs import service as jobs_service
from repohub.repos.access import Access
from repohub.repos.reading import repo_refs
from repohub.repos.service import get_repo
from repohub.web.browse import CommitInfo, Header, build_header, commit_info, with_store
from repohub.web.context import Page, current_page
from repohub.web.routes.common import page_router, repo_key

router = page_router()
# Like the job pages: same-origin scripts (charts.js) and nothing else beyond the site's own.
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
COMMITS_PER_BRANCH = 300
MAX_BRANCHES = 50
CHUNK = 500  # commits per query


@dataclass
class Version:
    commit: CommitInfo
    branches: list[str]
    depth: int = 0  # distance from a branch tip: orders commits made in the same second
    kind: str = ""  # eval | train: which report the figures come from
    job_id: int = 0
    headline: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class VersionsView:
    header: Header
    rows: list[Version]  # newest first
    metrics: list[str]
    branches: list[str]


def _walk(store: Any, branches: dict[str, str]) -> dict[str, Version]:
    found: dict[str, Version] = {}
    for branch, tip in branches.items():
        walker = Walker(store, [tip.encode()], order=ORDER_DATE)
        for depth, entry in enumerate(islice(walker, COMMITS_PER_BRANCH)):
            sha = entry.commit.id.decode()
            if sha in found:
                found[sha].branches.append(branch)
                found[sha].depth = max(found[sha].depth, depth)
            else:
                found[sha] = Version(commit_info(entry.commit), [branch], depth)
    return found


def _attach_reports(session: Any, repo: Any, found: dict[str, Version]) -> None:
    """Each commit's newest succeeded evaluation, else its newest succeeded training, and that
    job's report: one query for the jobs of all commits, one per evaluated commit."""
    shas = list(found)
    for start in range(0, len(shas), CHUNK):
        chunk = shas[start : start + CHUNK]
        for sha, jobs in jobs_service.marks_for_commits(session, repo, chunk).items():
            done = [j for j in jobs if j.state == "succeeded" and j.kind in ("eval", "train")]
            if not done:
                continue
            job = max(done, key=lambda j: (j.kind == "eval", j.id))
            report = jobs_service.job_report(session, job.id)
            if report is not None:
                version = found[sha]
                version.kind, version.job_id = job.kind, job.id
                version.headline = dict(report.headline or {})


def versions_view(page: Page, owner: str, name: str) -> VersionsView:
    key = repo_key("model", owner, name)
    with page.hub.sessions() as session:
        repo = get_repo(session, page.identity, key, Access.READ)
        refs = repo_refs(session, repo)
        header = build_header(session, page.identity, repo, refs)
        heads = {n[11:]: t for n, t in sorted(refs.items()) if n.startswith("refs/heads/")}
        ordered = dict(
            sorted(heads.items(), key=lambda item: (item[0] != repo.default_branch, item[0]))
        )
        ordered = dict(islice(ordered.items(), MAX_BRANCHES))
        found = with_store(page.hub, repo.network_id, lambda store: _walk(store, ordered))
        _attach_reports(session, repo, found)
    evaluated = (v for v in found.values() if v.kind)
    rows = sorted(evaluated, key=lambda v: (v.commit.date, -v.depth), reverse=True)
    metrics: list[str] = []
    for row in rows:
        metrics += [m for m in row.headline if m not in metrics and not m.endswith("_samples")]
    branches = [b for b in ordered if any(b in row.branches for row in rows)]
    return VersionsView(header, rows, metrics, branches)


@router.get("/{owner}/{name}/versions")
def versions(owner: str, name: str, page: Page = Depends(current_page)) -> Response:
    view = versions_view(page, owner, name)
    response = page.render("versions.html", view=view, header=view.header, tab="versions")
    response.headers["Content-Security-Policy"] = CSP
    return response
