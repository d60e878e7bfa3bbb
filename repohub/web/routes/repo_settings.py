"""`{repo}/settings`: what a repo's admins can change. Visible to admins only (403 otherwise)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Form
from fastapi.responses import Response

from repohub.errors import RepoHubError
from repohub.repos import settings
from repohub.repos.service import RepoKey
from repohub.web import browse
from repohub.web.context import Page, current_page
from repohub.web.forms import checked_page
from repohub.web.routes.common import REPO_PREFIXES, page_router, repo_key, require_login
from repohub.web.urls import repo_path

router = page_router()


def _render(page: Page, key: RepoKey, status: int = 200, **context: object) -> Response:
    admin = settings.admin_view(page.hub, page.identity, key)
    header = browse.header_only(page.hub, page.identity, key)
    context.setdefault("error", None)
    context.setdefault("saved", None)
    return page.render(
        "repo_settings.html", status=status, admin=admin, header=header, tab="settings", **context
    )


def _show(repo_type: str):  # type: ignore[no-untyped-def]
    def show(owner: str, name: str, page: Page = Depends(current_page)) -> Response:
        require_login(page)
        return _render(page, repo_key(repo_type, owner, name))

    return show


def _apply(page: Page, key: RepoKey, action: Callable[[], object], saved: str) -> Response:
    """Run one settings action for an admin; an invalid one re-renders the page with why.

    Access is checked first, so a non-admin gets the 404 or 403 page whatever the action
    would have said.
    """
    require_login(page)
    settings.admin_view(page.hub, page.identity, key)
    try:
        action()
    except RepoHubError as exc:
        return _render(page, key, exc.status_code, error=exc.message)
    return _render(page, key, saved=saved)


def _visibility(repo_type: str):  # type: ignore[no-untyped-def]
    def visibility(
        owner: str, name: str, value: str = Form(""), page: Page = Depends(checked_page)
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        private = value == "private"
        return _apply(
            page,
            key,
            lambda: settings.set_visibility(page.hub, page.identity, key, private=private),
            "Visibility saved.",
        )

    return visibility


def _description(repo_type: str):  # type: ignore[no-untyped-def]
    def description(
        owner: str, name: str, value: str = Form(""), page: Page = Depends(checked_page)
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        return _apply(
            page,
            key,
            lambda: settings.set_description(page.hub, page.identity, key, value),
            "Description saved.",
        )

    return description


def _default_branch(repo_type: str):  # type: ignore[no-untyped-def]
    def default_branch(
        owner: str, name: str, value: str = Form(""), page: Page = Depends(checked_page)
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        return _apply(
            page,
            key,
            lambda: settings.set_default_branch(page.hub, page.identity, key, value),
            "Default branch saved.",
        )

    return default_branch


def _collaborator(repo_type: str):  # type: ignore[no-untyped-def]
    def collaborator(
        owner: str,
        name: str,
        username: str = Form(""),
        role: str = Form("read"),
        remove: str = Form(""),
        page: Page = Depends(checked_page),
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        if remove:
            return _apply(
                page,
                key,
                lambda: settings.remove_collaborator(page.hub, page.identity, key, username),
                f"{username} removed.",
            )
        return _apply(
            page,
            key,
            lambda: settings.add_collaborator(page.hub, page.identity, key, username, role),
            f"{username} can now {role}.",
        )

    return collaborator


def _transfer(repo_type: str):  # type: ignore[no-untyped-def]
    def transfer(
        owner: str, name: str, new_owner: str = Form(""), page: Page = Depends(checked_page)
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        require_login(page)
        settings.admin_view(page.hub, page.identity, key)
        try:
            full_name = settings.transfer(page.hub, page.identity, key, new_owner)
        except RepoHubError as exc:
            return _render(page, key, exc.status_code, error=exc.message)
        return page.redirect(repo_path(repo_type, full_name))

    return transfer


def _delete(repo_type: str):  # type: ignore[no-untyped-def]
    def delete(
        owner: str, name: str, confirm: str = Form(""), page: Page = Depends(checked_page)
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        require_login(page)
        settings.admin_view(page.hub, page.identity, key)
        try:
            settings.delete_confirmed(page.hub, page.identity, key, confirm)
        except RepoHubError as exc:
            return _render(page, key, exc.status_code, error=exc.message)
        return page.redirect(f"/{page.me}")

    return delete


ACTIONS = {
    "visibility": _visibility,
    "description": _description,
    "default-branch": _default_branch,
    "collaborators": _collaborator,
    "transfer": _transfer,
    "delete": _delete,
}

for _type, _prefix in REPO_PREFIXES:
    _base = f"{_prefix}/{{owner}}/{{name}}/settings"
    router.add_api_route(_base, _show(_type), methods=["GET"])
    for _action, _factory in ACTIONS.items():
        router.add_api_route(f"{_base}/{_action}", _factory(_type), methods=["POST"])
