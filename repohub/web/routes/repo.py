"""A repo's main pages: the card and file tree, directories, files; like and fork."""

from __future__ import annotations

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from repohub.errors import RepoHubError
from repohub.repos import service
from repohub.repos.settings import toggle_like
from repohub.web import browse
from repohub.web.context import Page, current_page
from repohub.web.forms import checked_page
from repohub.web.routes.common import REPO_PREFIXES, page_router, repo_key, require_login
from repohub.web.urls import RepoUrls, rev_and_path

router = page_router()


def _clone_url(page: Page, urls: RepoUrls) -> str:
    return f"{page.base_url}{urls.base}"


def _repo_page(repo_type: str):  # type: ignore[no-untyped-def]
    def repo_page(owner: str, name: str, page: Page = Depends(current_page)) -> Response:
        key = repo_key(repo_type, owner, name)

        def render() -> str:  # the page as `page.identity` sees it
            view = browse.tree_view(page.hub, page.state.caches, page.identity, key, None, "")
            template = "repo_empty.html" if view.commit is None else "repo.html"
            clone_url = _clone_url(page, view.header.urls)
            storage = None
            if view.commit is not None:
                storage = browse.storage_figures(page.hub, page.state.caches, page.identity, key)
            return page.render_html(
                template,
                view=view,
                header=view.header,
                clone_url=clone_url,
                storage=storage,
                tab="card",
            )

        if page.identity.is_anonymous:
            state = browse.anonymous_state(page.hub, page.identity, key)
            cache_key = ("repo", page.base_url, state)
            return page.respond(page.state.caches.pages.get(cache_key, render))
        return page.respond(render())

    return repo_page


def _tree_page(repo_type: str):  # type: ignore[no-untyped-def]
    def tree_page(
        request: Request, owner: str, name: str, page: Page = Depends(current_page)
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        rev, path = rev_and_path(request, key, "tree")
        view = browse.tree_view(page.hub, page.state.caches, page.identity, key, rev, path)
        return page.render("tree.html", view=view, header=view.header, tab="files")

    return tree_page


def _blob_page(repo_type: str):  # type: ignore[no-untyped-def]
    def blob_page(
        request: Request, owner: str, name: str, page: Page = Depends(current_page)
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        rev, path = rev_and_path(request, key, "blob")
        view = browse.file_view(page.hub, page.state.caches, page.identity, key, rev, path)
        return page.render("blob.html", view=view, header=view.header, tab="files")

    return blob_page


def _like(repo_type: str):  # type: ignore[no-untyped-def]
    def like(owner: str, name: str, page: Page = Depends(checked_page)) -> Response:
        require_login(page)
        key = repo_key(repo_type, owner, name)
        toggle_like(page.hub, page.identity, key)
        return page.redirect(RepoUrls.of(key).base)

    return like


def _fork(repo_type: str):  # type: ignore[no-untyped-def]
    def fork(
        owner: str,
        name: str,
        namespace: str = Form(""),
        new_name: str = Form(""),
        page: Page = Depends(checked_page),
    ) -> Response:
        require_login(page)
        key = repo_key(repo_type, owner, name)
        try:
            forked = service.fork_repo(
                page.hub,
                page.identity,
                key,
                owner=namespace or None,
                name=new_name.strip() or None,
            )
        except RepoHubError as exc:
            if exc.status_code == 404:
                raise
            header = browse.header_only(page.hub, page.identity, key)
            return page.render(
                "fork.html",
                status=exc.status_code,
                header=header,
                error=exc.message,
                namespace=namespace,
                new_name=new_name,
                tab="card",
            )
        return page.redirect(RepoUrls.of(repo_key(repo_type, forked.owner.name, forked.name)).base)

    return fork


def _fork_form(repo_type: str):  # type: ignore[no-untyped-def]
    def fork_form(owner: str, name: str, page: Page = Depends(current_page)) -> Response:
        require_login(page)
        header = browse.header_only(page.hub, page.identity, repo_key(repo_type, owner, name))
        return page.render(
            "fork.html", header=header, error=None, namespace="", new_name="", tab="card"
        )

    return fork_form


for _type, _prefix in REPO_PREFIXES:
    _base = f"{_prefix}/{{owner}}/{{name}}"
    router.add_api_route(_base, _repo_page(_type), methods=["GET"])
    router.add_api_route(f"{_base}/tree/{{rest:path}}", _tree_page(_type), methods=["GET"])
    router.add_api_route(f"{_base}/blob/{{rest:path}}", _blob_page(_type), methods=["GET"])
    router.add_api_route(f"{_base}/like", _like(_type), methods=["POST"])
    router.add_api_route(f"{_base}/fork", _fork_form(_type), methods=["GET"])
    router.add_api_route(f"{_base}/fork", _fork(_type), methods=["POST"])
