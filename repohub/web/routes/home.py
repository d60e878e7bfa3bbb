"""The home page: what is new and what is used most, and a search box."""

from __future__ import annotations

from fastapi import Depends
from fastapi.responses import Response

from repohub.repos.search import public_top
from repohub.web.context import Page, current_page
from repohub.web.routes.common import page_router

router = page_router()


@router.get("/")
def home(page: Page = Depends(current_page)) -> Response:
    hub = page.hub
    return page.render(
        "home.html",
        recent_models=public_top(hub, "model", "updated"),
        popular_models=public_top(hub, "model", "downloads"),
        recent_datasets=public_top(hub, "dataset", "updated"),
        popular_datasets=public_top(hub, "dataset", "downloads"),
    )
