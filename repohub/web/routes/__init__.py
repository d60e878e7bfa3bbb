"""The web's routers, in the order they must be matched: fixed paths before `/{owner}`,
dataset repos before model repos (`/datasets/a/b` must not read as the model `datasets/a`)."""

from __future__ import annotations

from fastapi import APIRouter

from repohub.web.routes import (
    accounts,
    commits,
    compare,
    home,
    listing,
    new,
    profiles,
    repo,
    repo_settings,
    versions,
)

ROUTERS: list[APIRouter] = [
    home.router,
    listing.router,
    accounts.router,
    new.router,
    repo_settings.router,
    commits.router,
    compare.router,
    versions.router,
    repo.router,
    profiles.router,
]
