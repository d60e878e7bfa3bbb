"""History pages: the commit log, one commit's diff, branches and tags."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import Response

from repohub.web import history
from repohub.web.context import Page, current_page
from repohub.web.jobs_pages import commit_marks
from repohub.web.routes.common import REPO_PREFIXES, page_router, repo_key
from repohub.web.urls import rev_and_path

router = page_router()


def _log(repo_type: str):  # type: ignore[no-untyped-def]
    def log(
        request: Request, owner: str, name: str, p: str = "1", page: Page = Depends(current_page)
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        rev, _ = rev_and_path(request, key, "commits")
        number = int(p) if p.isdigit() and len(p) < 6 else 1
        log_page = history.commit_log(page.hub, page.identity, key, rev, number)
        marks = commit_marks(page, repo_type, owner, name, [c.sha for c in log_page.commits])
        return page.render(
            "commits.html", log=log_page, header=log_page.header, tab="commits", marks=marks
        )

    return log


def _commit(repo_type: str):  # type: ignore[no-untyped-def]
    def commit(owner: str, name: str, sha: str, page: Page = Depends(current_page)) -> Response:
        key = repo_key(repo_type, owner, name)
        view = history.commit_page(page.hub, page.state.caches, page.identity, key, sha)
        marks = commit_marks(page, repo_type, owner, name, [view.diff.commit.sha])
        return page.render("commit.html", view=view, header=view.header, tab="commits", marks=marks)

    return commit


def _refs(repo_type: str, which: str):  # type: ignore[no-untyped-def]
    def refs(owner: str, name: str, page: Page = Depends(current_page)) -> Response:
        view = history.refs_page(page.hub, page.identity, repo_key(repo_type, owner, name))
        rows = view.branches if which == "branches" else view.tags
        return page.render(
            "refs.html", view=view, header=view.header, rows=rows, which=which, tab=which
        )

    return refs


for _type, _prefix in REPO_PREFIXES:
    _base = f"{_prefix}/{{owner}}/{{name}}"
    router.add_api_route(f"{_base}/commits/{{rest:path}}", _log(_type), methods=["GET"])
    router.add_api_route(f"{_base}/commit/{{sha}}", _commit(_type), methods=["GET"])
    router.add_api_route(f"{_base}/branches", _refs(_type, "branches"), methods=["GET"])
    router.add_api_route(f"{_base}/tags", _refs(_type, "tags"), methods=["GET"])
