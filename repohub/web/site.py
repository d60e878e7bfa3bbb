"""Mount the web pages on the app: state, static files, routers, error pages, headers."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from repohub.auth.sessions import SessionConfig
from repohub.config import Settings
from repohub.web import errors, fragments
from repohub.web.cache import Caches
from repohub.web.context import STATIC, WebState
from repohub.web.errors import HtmlRoute
from repohub.web.routes import ROUTERS
from repohub.web.security import SecurityHeaders
from repohub.web.templating import build_environment


def session_config(settings: Settings) -> SessionConfig:
    return SessionConfig(
        secret=settings.resolved_secret_key(),
        ttl_days=settings.session_ttl_days,
        window_seconds=settings.login_window_seconds,
        failures_per_account=settings.login_failures_per_account,
        failures_per_ip=settings.login_failures_per_ip,
    )


def _add_top_level(app: FastAPI, router: APIRouter) -> None:
    """Add the router's routes to the app's own router rather than including the router.

    FastAPI matches an included router through a per-request indirection (twice: once to
    find it, once to dispatch in it); measured under load, that cost more CPU than the
    page itself. Top-level routes are matched once.
    """
    for route in router.routes:
        assert isinstance(route, APIRoute)
        app.router.add_api_route(
            route.path,
            route.endpoint,
            methods=list(route.methods or ()),
            name=route.name,
            include_in_schema=False,
            route_class_override=HtmlRoute,
        )


def install(app: FastAPI, settings: Settings) -> None:
    """Call after the API routers: the web's `/{owner}/{name}` must be matched last."""
    env, caches = build_environment(), Caches()
    fragments.install(env, caches)
    fragments.precompile(env)
    app.state.web = WebState(env, session_config(settings), caches)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        _add_top_level(app, router)
    errors.install(app)
    app.add_middleware(SecurityHeaders)
