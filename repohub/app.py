"""The ASGI app factory: one app serves the JSON API, git smart HTTP and the web pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from repohub import __version__
from repohub.api import (
    accounts,
    commits,
    compare,
    errors,
    files,
    git_http,
    health,
    jobs,
    lfs,
    refs,
    repos,
    runtime,
    xet,
)
from repohub.api.headers import HeaderGuard
from repohub.api.limits import BodyLimit, LenientJson, NoNulInUrl
from repohub.api.requestid import RequestId
from repohub.config import Settings
from repohub.repos.context import Hub
from repohub.web import jobs_pages
from repohub.web import site as web_site


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> FastAPI:
    settings = settings or Settings()
    hub = hub or Hub.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.configure(app.state, settings.web_threads)
        yield
        hub.close()

    app = FastAPI(title="RepoHub", version=__version__, lifespan=lifespan, docs_url="/docs")
    app.state.hub = hub
    errors.install(app)
    for module in (
        health,
        accounts,
        repos,
        commits,
        refs,
        lfs,
        xet,
        files,
        git_http,
        jobs,
        compare,
    ):
        app.include_router(module.router)
    jobs_pages.install(app)  # before the web's `/{owner}/{name}/...` routes
    web_site.install(app, settings)  # after the API: its `/{owner}/{name}` routes match last
    app.add_middleware(LenientJson)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_request_body_bytes,
        commit_bytes=settings.max_commit_body_bytes,
    )
    app.add_middleware(NoNulInUrl)
    app.add_middleware(RequestId)  # outside the others: their answers get an id too
    app.add_middleware(HeaderGuard)  # outermost: no response escapes it
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn repohub.app:app_from_env --factory`: settings from the environment."""
    app = create_app(Settings())
    runtime.settle_heap()
    return app
