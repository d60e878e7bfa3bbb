"""Liveness and the small calls the Hub client makes on the side."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import text

from repohub import __version__
from repohub.api.deps import get_hub
from repohub.repos.context import Hub

router = APIRouter(prefix="/api", tags=["meta"])


@router.get("/health")
def health(hub: Hub = Depends(get_hub)) -> dict[str, Any]:
    with hub.sessions() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}


@router.get("/agent-harnesses", include_in_schema=False)
def agent_harnesses() -> dict[str, Any]:
    return {"standardEnvVars": [], "harnesses": {}}
