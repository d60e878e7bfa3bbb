"""Domain errors as pages: 404 for anything missing or invisible, 403 for a refused action.

A private repo raises the same `RepoNotFound` as a missing one, and this module renders
both with the same page, so a browser learns nothing a `git clone` would not. JSON paths
(`/api/...`) keep the API's own error answers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from repohub.auth.identity import ANONYMOUS
from repohub.errors import NotFound, RepoHubError, ServiceUnavailable, Unauthenticated
from repohub.repos.outage import DATABASE_DOWN, database_unavailable
from repohub.web.context import Page, page_of, web_state

TITLES = {
    400: "That did not work",
    403: "You can't do that",
    404: "Not found",
    409: "Already exists",
    422: "That did not work",
    429: "Too many attempts",
    503: "Service unavailable",
}
NOT_FOUND_TEXT = "This page does not exist, or you do not have access to it."


def error_page(request: Request, status: int, message: str) -> Response:
    page = page_of(request)
    if status == 401 and request.method == "GET":
        return page.redirect(f"/login?next={quote(request.url.path, safe='/')}")
    status = 403 if status == 401 else status
    title = TITLES.get(status, "Something went wrong")
    return page.render("error.html", status=status, code=status, title=title, message=message)


def outage_page(request: Request, exc: ServiceUnavailable) -> Response:
    """Rendered for anyone as anonymous: who is logged in is itself read from the database."""
    page = Page(request, request.app.state.hub, web_state(request), ANONYMOUS, None)
    title = TITLES[503]
    return page.render("error.html", status=503, code=503, title=title, message=exc.message)


def _page_for(request: Request, exc: RepoHubError) -> Response:
    if isinstance(exc, NotFound):
        return error_page(request, 404, NOT_FOUND_TEXT)
    if isinstance(exc, Unauthenticated):
        return error_page(request, 401, exc.message)
    return error_page(request, exc.status_code, exc.message)


class HtmlRoute(APIRoute):
    """A route whose domain errors become error pages instead of JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def render_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except RepoHubError as exc:
                if request.url.path.startswith("/api/"):
                    raise
                return await run_in_threadpool(_page_for, request, exc)
            except DATABASE_DOWN as exc:
                outage = database_unavailable(exc)
                if outage is None or request.url.path.startswith("/api/"):
                    raise
                return await run_in_threadpool(outage_page, request, outage)

        return render_errors


def install(app: FastAPI) -> None:
    """Unmatched URLs answer a browser with the 404 page; other clients keep JSON."""
    fallback = app.exception_handlers.get(StarletteHTTPException)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        wants_html = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 404 and wants_html and not request.url.path.startswith("/api/"):
            return await run_in_threadpool(error_page, request, 404, NOT_FOUND_TEXT)
        assert fallback is not None
        return await fallback(request, exc)  # type: ignore[misc]

    app.add_exception_handler(StarletteHTTPException, http_error)
