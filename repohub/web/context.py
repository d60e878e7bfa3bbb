"""Who is asking and how to answer: the per-request `Page` every route renders through.

A browser is identified by its session cookie only (never an Authorization header), so a
page never acts on a credential the browser attaches by itself to cross-site requests
except the cookie, and that one is SameSite and checked against a CSRF token on every form.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool

from repohub.auth import sessions
from repohub.auth.identity import Identity
from repohub.auth.sessions import ANON_COOKIE, SESSION_COOKIE, SessionConfig
from repohub.repos.context import Hub
from repohub.web.cache import Caches

STATIC = Path(__file__).with_name("static")


def static_digest(directory: Path = STATIC) -> str:
    """A short hash of the static files, for `?v=` cache-busting: the same in every web
    process and on every node serving the same release, new whenever a file changes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


@dataclass
class WebState:
    """Built once by `site.install`: templates, session settings, per-process caches."""

    env: Environment
    sessions: SessionConfig
    caches: Caches
    asset_version: str = field(default_factory=lambda: static_digest())


@dataclass
class Page:
    request: Request
    hub: Hub
    state: WebState
    identity: Identity
    known_binding: str | None  # what this browser's CSRF tokens are bound to, if it has one
    new_anon: bool = False  # the anonymous binding cookie must be set on the answer

    @property
    def binding(self) -> str:
        """The CSRF binding; an anonymous browser without one gets one the first time a form
        needs it. Pages without forms (and anonymous pages served from the page cache) so
        set no cookie."""
        if self.known_binding is None:
            self.known_binding = sessions.new_anonymous_binding()
            self.new_anon = True
        return self.known_binding

    @property
    def me(self) -> str | None:
        return self.identity.name

    @property
    def csrf(self) -> str:
        return sessions.csrf_token(self.state.sessions.secret, self.binding)

    @property
    def base_url(self) -> str:
        configured = self.hub.settings.public_url
        return (configured or str(self.request.base_url)).rstrip("/")

    @property
    def secure(self) -> bool:
        return self.request.url.scheme == "https" or self.base_url.startswith("https:")

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.respond(self.render_html(template, **context), status)

    def render_html(self, template: str, **context: Any) -> str:
        return self.state.env.get_template(template).render(page=self, **context)

    def respond(self, html: str, status: int = 200) -> HTMLResponse:
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "private, no-cache"
        self.finish(response)
        return response

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        if self.new_anon:
            self.set_cookie(response, ANON_COOKIE, self.binding, max_age=None)
        return response

    def set_cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )


def web_state(request: Request) -> WebState:
    return request.app.state.web


def page_of(request: Request) -> Page:
    """The caller's identity from the session cookie, and CSRF binding (may read the database)."""
    hub: Hub = request.app.state.hub
    state = web_state(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    identity = sessions.identity_for_cookie(hub.sessions, state.sessions, cookie)
    if identity.user_id is not None:
        token = sessions.session_token(state.sessions.secret, cookie)
        assert token is not None
        return Page(request, hub, state, identity, token)
    return Page(request, hub, state, identity, request.cookies.get(ANON_COOKIE) or None)


async def current_page(request: Request) -> Page:
    """FastAPI dependency: `page_of`. Async, so that only a session cookie costs a trip to a
    worker thread (its database read): an anonymous view, most of a public hub's traffic,
    reads nothing and goes straight to its route."""
    if request.cookies.get(SESSION_COOKIE):
        return await run_in_threadpool(page_of, request)
    return page_of(request)


def client_of(request: Request) -> sessions.Client:
    host = request.client.host if request.client else "unknown"
    return sessions.Client(host, request.headers.get("user-agent", ""))
