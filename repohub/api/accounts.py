"""whoami, organisations, members and personal access tokens."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from repohub.api.bodies import BodyModel
from repohub.api.deps import get_hub, get_identity
from repohub.api.hubjson import hub_date
from repohub.auth import service
from repohub.auth.identity import Identity
from repohub.db.models import Token
from repohub.repos.context import Hub
from repohub.repos.limits import DbId

router = APIRouter(prefix="/api", tags=["accounts"])


@router.get("/whoami-v2")
def whoami(
    hub: Hub = Depends(get_hub), identity: Identity = Depends(get_identity)
) -> dict[str, Any]:
    me = service.whoami(hub.sessions, identity)
    return {
        "type": "user",
        "id": str(me.user.id),
        "name": me.user.name,
        "fullname": me.user.fullname or me.user.name,
        "email": me.user.email,
        "isAdmin": me.user.is_admin,
        "orgs": [{"type": "org", "name": o.name, "id": str(o.id)} for o in me.orgs],
        "auth": {
            "type": "access_token",
            "accessToken": {"displayName": identity.token_name or "", "role": identity.scope},
        },
    }


class NewOrg(BodyModel):
    name: str


class NewMember(BodyModel):
    username: str
    role: Literal["admin", "write", "read"]


@router.post("/organizations")
def create_org(
    body: NewOrg, hub: Hub = Depends(get_hub), identity: Identity = Depends(get_identity)
) -> dict[str, Any]:
    org = service.create_org(hub.sessions, identity, body.name)
    return {"name": org.name, "type": "org"}


@router.post("/organizations/{org}/members")
def add_member(
    org: str,
    body: NewMember,
    hub: Hub = Depends(get_hub),
    identity: Identity = Depends(get_identity),
) -> dict[str, Any]:
    service.add_member(hub.sessions, identity, org, body.username, body.role)
    return {"org": org, "username": body.username, "role": body.role}


class NewToken(BodyModel):
    name: str = ""
    scope: Literal["read", "write"] = "read"


def _token_json(token: Token) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "scope": token.scope,
        "createdAt": hub_date(token.created_at),
        "lastUsedAt": hub_date(token.last_used_at) if token.last_used_at else None,
        "revoked": token.revoked_at is not None,
    }


@router.get("/tokens")
def list_tokens(
    hub: Hub = Depends(get_hub), identity: Identity = Depends(get_identity)
) -> list[dict[str, Any]]:
    return [_token_json(t) for t in service.my_tokens(hub.sessions, identity)]


@router.post("/tokens")
def create_token(
    body: NewToken, hub: Hub = Depends(get_hub), identity: Identity = Depends(get_identity)
) -> JSONResponse:
    issued = service.issue_token(hub.sessions, identity, name=body.name, scope=body.scope)
    return JSONResponse({**_token_json(issued.token), "token": issued.plaintext}, status_code=201)


@router.delete("/tokens/{token_id}")
def revoke_token(
    token_id: DbId, hub: Hub = Depends(get_hub), identity: Identity = Depends(get_identity)
) -> dict[str, Any]:
    return _token_json(service.revoke(hub.sessions, identity, token_id))
