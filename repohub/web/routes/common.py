"""Small helpers routes share: a router whose errors are pages, safe redirects, login."""

from __future__ import annotations

from fastapi import APIRouter

from repohub.errors import Unauthenticated
from repohub.repos.service import RepoKey
from repohub.web.context import Page
from repohub.web.errors import HtmlRoute

REPO_PREFIXES = (("dataset", "/datasets"), ("model", ""))


def page_router() -> APIRouter:
    return APIRouter(route_class=HtmlRoute, include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only local paths: `//evil.example` and `https://...` would leave the site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def require_login(page: Page) -> None:
    if page.identity.user_id is None:
        raise Unauthenticated("Log in to continue")


def repo_key(repo_type: str, owner: str, name: str) -> RepoKey:
    return RepoKey(repo_type, owner, name)
