"""FastAPI dependencies: the hub, the caller's identity, a database session."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from repohub.auth.identity import ANONYMOUS, Identity
from repohub.auth.login import identity_from_token
from repohub.errors import Unauthenticated
from repohub.repos.context import Hub


def get_hub(request: Request) -> Hub:
    return request.app.state.hub


def get_identity(request: Request) -> Identity:
    """`Authorization: Bearer <token>`; no header means anonymous, a bad token is a 401."""
    header = request.headers.get("authorization", "")
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Invalid credentials in Authorization header")
    hub = get_hub(request)
    with hub.sessions.begin() as session:
        return identity_from_token(session, token.strip())


def get_session(request: Request) -> Iterator[Session]:
    """A read-only session for handlers that only look; writes go through the domain."""
    with get_hub(request).sessions() as session:
        yield session


def base_url(request: Request) -> str:
    """The URL clients reach us at (the Hub client checks the host of URLs we return)."""
    hub = get_hub(request)
    if hub.settings.public_url:
        return hub.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")
