"""`{repo}/settings`: what a repo's admins can change. Visible to admins only (403 otherwise)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

from fastapi import Depends, Form
from fastapi.responses import Response

from repohub.auth.identity import Identity
from repohub.errors import RepoHubError
from repohub.repos import settings
from repohub.repos.context import Hub
from repohub.repos.service import RepoKey
from repohub.web import browse
from repohub.web.context import Page, current_page
from repohub.web.forms import checked_page
from repohub.web.routes.common import REPO_PREFIXES, page_router, repo_key, require_login
from repohub.web.urls import repo_path

router = page_router()
T = TypeVar("T")


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


def _apply(
    page: Page, key: RepoKey, action: Callable[[], T], done: Callable[[T], Response]
) -> Response:
    """Run one settings action for an admin; an invalid one re-renders the page with why.

    Access is checked first, so a non-admin gets the 404 or 403 page whatever the action
    would have said.
    """
    require_login(page)
    settings.admin_view(page.hub, page.identity, key)
    try:
        result = action()
    except RepoHubError as exc:
        return _render(page, key, exc.status_code, error=exc.message)
    return done(result)


def _saved(page: Page, key: RepoKey, message: str) -> Callable[[object], Response]:
    return lambda _: _render(page, key, saved=message)


# One-field forms (`value`): what each sets, and what the page says once it is saved.
Setter = Callable[[Hub, Identity, RepoKey, str], None]
FIELDS: dict[str, tuple[Setter, str]] = {
    "visibility": (
        lambda hub, who, key, value: settings.set_visibility(
            hub, who, key, private=value == "private"
        ),
        "Visibility saved.",
    ),
    "description": (settings.set_description, "Description saved."),
    "default-branch": (settings.set_default_branch, "Default branch saved."),
}


def _field(setter: Setter, message: str):  # type: ignore[no-untyped-def]
    def factory(repo_type: str):  # type: ignore[no-untyped-def]
        def save_field(
            owner: str, name: str, value: str = Form(""), page: Page = Depends(checked_page)
        ) -> Response:
            key = repo_key(repo_type, owner, name)
            action = partial(setter, page.hub, page.identity, key, value)
            return _apply(page, key, action, _saved(page, key, message))

        return save_field

    return factory


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
        who = (page.hub, page.identity, key, username)
        if remove:
            action = partial(settings.remove_collaborator, *who)
            return _apply(page, key, action, _saved(page, key, f"{username} removed."))
        action = partial(settings.add_collaborator, *who, role)
        return _apply(page, key, action, _saved(page, key, f"{username} can now {role}."))

    return collaborator


def _transfer(repo_type: str):  # type: ignore[no-untyped-def]
    def transfer(
        owner: str, name: str, new_owner: str = Form(""), page: Page = Depends(checked_page)
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        action = partial(settings.transfer, page.hub, page.identity, key, new_owner)
        return _apply(page, key, action, lambda moved: page.redirect(repo_path(repo_type, moved)))

    return transfer


def _delete(repo_type: str):  # type: ignore[no-untyped-def]
    def delete(
        owner: str, name: str, confirm: str = Form(""), page: Page = Depends(checked_page)
    ) -> Response:
        key = repo_key(repo_type, owner, name)
        action = partial(settings.delete_confirmed, page.hub, page.identity, key, confirm)
        return _apply(page, key, action, lambda _: page.redirect(f"/{page.me}"))

    return delete


ACTIONS = {
    **{field: _field(*form) for field, form in FIELDS.items()},
    "collaborators": _collaborator,
    "transfer": _transfer,
    "delete": _delete,
}

for _type, _prefix in REPO_PREFIXES:
    _base = f"{_prefix}/{{owner}}/{{name}}/settings"
    router.add_api_route(_base, _show(_type), methods=["GET"])
    for _action, _factory in ACTIONS.items():
        router.add_api_route(f"{_base}/{_action}", _factory(_type), methods=["POST"])
