"""`/new`: create a model or dataset repo in one of the caller's namespaces."""

from __future__ import annotations

from fastapi import Depends, Form
from fastapi.responses import Response

from repohub.errors import RepoHubError
from repohub.repos import service
from repohub.repos.settings import writable_namespaces
from repohub.web.context import Page, current_page
from repohub.web.forms import checked_page
from repohub.web.routes.common import page_router, require_login
from repohub.web.urls import repo_path

router = page_router()


def _form(page: Page, status: int = 200, error: str | None = None, **form: str) -> Response:
    with page.hub.sessions() as session:
        namespaces = writable_namespaces(session, page.identity)
    return page.render("new.html", status=status, namespaces=namespaces, error=error, form=form)


@router.get("/new")
def new_form(page: Page = Depends(current_page)) -> Response:
    require_login(page)
    return _form(page)


@router.post("/new")
def create(
    owner: str = Form(""),
    name: str = Form(""),
    repo_type: str = Form("model"),
    visibility: str = Form("public"),
    page: Page = Depends(checked_page),
) -> Response:
    require_login(page)
    try:
        repo = service.create_repo(
            page.hub,
            page.identity,
            name=name.strip(),
            owner=owner or None,
            repo_type=repo_type,
            private=visibility == "private",
        )
    except RepoHubError as exc:
        form = {"owner": owner, "name": name, "repo_type": repo_type, "visibility": visibility}
        return _form(page, exc.status_code, exc.message, **form)
    return page.redirect(repo_path(repo.repo_type, repo.full_name))
