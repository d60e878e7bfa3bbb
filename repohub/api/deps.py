"""FastAPI dependencies: the hub, the caller's identity, a database session."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from repohub.api.credentials import identity_from_header
from repohub.auth.identity import Identity
from repohub.repos.context import Hub


def get_hub(request: Request) -> Hub:
    return request.app.state.hub


def get_identity(request: Request) -> Identity:
    """`Authorization: Bearer <token>` (or Basic); none means anonymous, a bad token is a 401."""
    return identity_from_header(get_hub(request), request.headers.get("authorization"))


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
