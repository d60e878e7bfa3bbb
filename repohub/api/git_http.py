"""git smart HTTP: `info/refs`, `git-upload-pack`, `git-receive-pack` for models and datasets.

Errors follow git's conventions rather than the Hub's JSON: a plain-text body (git prints it
as `remote:` lines) and a Basic challenge whenever an anonymous caller might see more with
credentials, so a private repo and a missing one answer alike (DESIGN.md, section 4).
"""

from __future__ import annotations

import logging
from contextlib import suppress

import anyio.to_thread
from dulwich.errors import GitProtocolError, HangupException
from dulwich.protocol import ReceivableProtocol
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from repohub.api.credentials import identity_from_header
from repohub.api.headers import body_text
from repohub.api.runtime import run_transfer
from repohub.api.streams import BodyReader, ResponseWriter
from repohub.auth.accounts import validate_account_name
from repohub.auth.identity import ANONYMOUS, Identity
from repohub.errors import (
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RepoHubError,
    Unauthenticated,
)
from repohub.git import service as git_service
from repohub.git.service import SERVICES, GitTarget
from repohub.repos.context import Hub
from repohub.repos.names import validate_repo_name
from repohub.repos.service import RepoKey

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
NO_CACHE = {"Cache-Control": "no-cache, max-age=0, must-revalidate", "Pragma": "no-cache"}
CHALLENGE = {"WWW-Authenticate": 'Basic realm="RepoHub"'}
MAX_NEGOTIATION_BYTES = 64 * 1024 * 1024


def _identity(hub: Hub, request: Request) -> Identity:
    return identity_from_header(hub, request.headers.get("authorization"))


def _key(repo_type: str, owner: str, name: str) -> RepoKey:
    if name.endswith(".git"):
        name = name[:-4]
    validate_account_name(owner)
    validate_repo_name(name)
    return RepoKey(repo_type, owner, name)


def _error(exc: RepoHubError, identity: Identity) -> Response:
    if isinstance(exc, Unauthenticated) or (
        identity.is_anonymous and isinstance(exc, NotFound | PermissionDenied)
    ):
        text = "Authentication required" if not isinstance(exc, Unauthenticated) else exc.message
        return PlainTextResponse(text + "\n", 401, headers={**CHALLENGE, **NO_CACHE})
    if isinstance(exc, NotFound):
        return PlainTextResponse("Repository not found\n", 404, headers=NO_CACHE)
    return PlainTextResponse(body_text(exc.message) + "\n", exc.status_code, headers=NO_CACHE)


async def _authorize(
    request: Request, repo_type: str, owner: str, name: str, service: str
) -> tuple[Hub, Identity, GitTarget] | Response:
    hub: Hub = request.app.state.hub
    identity = ANONYMOUS
    try:
        if service not in SERVICES:
            raise InvalidArgument(f"unsupported service {service!r}")
        key = _key(repo_type, owner, name)
        identity = await anyio.to_thread.run_sync(_identity, hub, request)
        target = await anyio.to_thread.run_sync(git_service.authorize, hub, identity, key, service)
    except RepoHubError as exc:
        return _error(exc, identity)
    return hub, identity, target


class GitServiceResponse(Response):
    """Runs a dulwich handler in a worker thread, streaming the request and the answer."""

    def __init__(
        self,
        request: Request,
        hub: Hub,
        identity: Identity,
        target: GitTarget,
        service: str,
        *,
        advertise: bool,
    ) -> None:
        super().__init__()
        self.request, self.hub, self.identity, self.target = request, hub, identity, target
        self.service, self.advertise = service, advertise
        kind = "advertisement" if advertise else "result"
        self.content_type = f"application/x-{service}-{kind}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", self.content_type.encode()),
                    *((k.lower().encode(), v.encode()) for k, v in NO_CACHE.items()),
                ],
            }
        )
        writer = ResponseWriter(send)
        await run_transfer(self.request, self._run, writer)

    def _run(self, writer: ResponseWriter) -> None:
        limit = (
            self.hub.settings.max_pack_bytes + MAX_NEGOTIATION_BYTES
            if self.service == "git-receive-pack"
            else MAX_NEGOTIATION_BYTES
        )
        reader = BodyReader(
            self.request.stream(),
            gzip=self.request.headers.get("content-encoding", "") in ("gzip", "x-gzip"),
            limit=limit,
        )
        proto = ReceivableProtocol(reader.recv, writer.write)
        try:
            self._serve(proto, writer)
        finally:
            reader.close()

    def _serve(self, proto: ReceivableProtocol, writer: ResponseWriter) -> None:
        try:
            if self.advertise:
                proto.write_pkt_line(f"# service={self.service}\n".encode())
                proto.write_pkt_line(None)
            git_service.run(
                self.hub,
                self.identity,
                self.target,
                self.service,
                proto,
                advertise=self.advertise,
                protocol_v2="version=2" in self.request.headers.get("git-protocol", ""),
            )
        except PayloadTooLarge as exc:
            _fatal(proto, exc.message)
        except ClientDisconnect:
            logger.info("git %s: client went away", self.service)
            return
        except (GitProtocolError, HangupException) as exc:
            _fatal(proto, f"protocol error: {exc}")
        except Exception as exc:
            logger.exception("git %s failed", self.service)
            _fatal(proto, f"internal error: {type(exc).__name__}")
        writer.close()


def _fatal(proto: ReceivableProtocol, message: str) -> None:
    """Tell the git client why we stop, on side-band channel 3 (it prints `remote: error`)."""
    with suppress(Exception):  # the client may already be gone
        proto.write_sideband(3, message.encode() + b"\n")


async def _info_refs(request: Request, repo_type: str, owner: str, name: str) -> Response:
    service = request.query_params.get("service", "")
    if not service:
        return PlainTextResponse(
            "RepoHub speaks git's smart HTTP protocol only; upgrade your git client\n", 403
        )
    found = await _authorize(request, repo_type, owner, name, service)
    if isinstance(found, Response):
        return found
    return GitServiceResponse(request, *found, service, advertise=True)


async def _service(
    request: Request, repo_type: str, owner: str, name: str, service: str
) -> Response:
    expected = f"application/x-{service}-request"
    if request.headers.get("content-type", "") != expected:
        return PlainTextResponse(f"expected Content-Type {expected}\n", 415)
    found = await _authorize(request, repo_type, owner, name, service)
    if isinstance(found, Response):
        return found
    return GitServiceResponse(request, *found, service, advertise=False)


@router.get("/{owner}/{name}/info/refs")
async def model_info_refs(request: Request, owner: str, name: str) -> Response:
    return await _info_refs(request, "model", owner, name)


@router.get("/datasets/{owner}/{name}/info/refs")
async def dataset_info_refs(request: Request, owner: str, name: str) -> Response:
    return await _info_refs(request, "dataset", owner, name)


def _register(service: str) -> None:
    @router.post(f"/{{owner}}/{{name}}/{service}", name=f"model-{service}")
    async def model_service(request: Request, owner: str, name: str) -> Response:
        return await _service(request, "model", owner, name, service)

    @router.post(f"/datasets/{{owner}}/{{name}}/{service}", name=f"dataset-{service}")
    async def dataset_service(request: Request, owner: str, name: str) -> Response:
        return await _service(request, "dataset", owner, name, service)


for _service_name in SERVICES:
    _register(_service_name)
