"""The Git LFS API: batch, basic transfers (via presigned S3 URLs or RepoHub), verify, locks.

Answers follow the Git LFS API specification (media type, per-object errors, 401 with an
`LFS-Authenticate` challenge); bodies carry `message` for git-lfs and `error` for the Hub
client, which reads only the latter.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from repohub.api.bodies import json_body
from repohub.api.credentials import identity_from_header
from repohub.api.deps import base_url
from repohub.api.headers import body_text, header_text
from repohub.api.hubjson import hub_date
from repohub.api.lfs_bodies import (
    BatchRequest,
    LockRequest,
    UnlockRequest,
    VerifyLocks,
    VerifyObject,
)
from repohub.api.ranges import parse_range
from repohub.api.runtime import run_transfer
from repohub.api.streams import BodyReader
from repohub.auth import signing
from repohub.auth.accounts import validate_account_name
from repohub.auth.identity import ANONYMOUS, Identity
from repohub.db.models import LfsLock
from repohub.errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RepoHubError,
    Unauthenticated,
)
from repohub.objects.lfs import check_oid
from repohub.repos import lfs as lfs_domain
from repohub.repos import locks
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.limits import parse_int
from repohub.repos.names import validate_repo_name
from repohub.repos.service import RepoKey

router = APIRouter(include_in_schema=False)
MEDIA = "application/vnd.git-lfs+json"
MAX_OBJECTS = 1000
CHUNK = 1024 * 1024


def lfs_json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=headers)


def lfs_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    extra = {"X-Error-Message": header_text(message)}
    text = body_text(message)
    return lfs_json({"message": text, "error": text}, status, {**extra, **(headers or {})})


def _challenge(message: str) -> JSONResponse:
    realm = 'Basic realm="RepoHub"'
    return lfs_error(401, message, {"LFS-Authenticate": realm, "WWW-Authenticate": realm})


def _domain_error(exc: RepoHubError, identity: Identity) -> JSONResponse:
    """Private and missing repos look alike; anonymous callers are invited to authenticate."""
    if isinstance(exc, Unauthenticated):
        return _challenge(exc.message)
    if identity.is_anonymous and isinstance(exc, NotFound | PermissionDenied):
        return _challenge("Authentication required")
    if isinstance(exc, NotFound) and exc.error_code == "RepoNotFound":
        return lfs_error(404, "Repository not found")
    return lfs_error(exc.status_code, exc.message)


def _key(repo_type: str, owner: str, name: str) -> RepoKey:
    name = name.removesuffix(".git")
    validate_account_name(owner)
    validate_repo_name(name)
    return RepoKey(repo_type, owner, name)


async def _context(
    request: Request, repo_type: str, owner: str, name: str
) -> tuple[Hub, Identity, RepoKey]:
    hub: Hub = request.app.state.hub
    identity = await anyio.to_thread.run_sync(
        identity_from_header, hub, request.headers.get("authorization")
    )
    return hub, identity, _key(repo_type, owner, name)


# -- batch --------------------------------------------------------------------------------


async def batch(request: Request, repo_type: str, owner: str, name: str) -> Response:
    identity = ANONYMOUS
    try:
        hub, identity, key = await _context(request, repo_type, owner, name)
        body = await json_body(request, BatchRequest)
        _check_batch(body)
        signed = request.headers.get("user-agent", "").startswith("git-lfs/")
        result = await anyio.to_thread.run_sync(
            lambda: lfs_domain.plan_batch(
                hub, identity, key, body.operation, body.objects, signed_checksum=signed
            )
        )
    except RepoHubError as exc:
        return _domain_error(exc, identity)
    urls = TransferUrls(hub, base_url(request), result.network_id)
    return lfs_json(
        {
            "transfer": "basic",
            "hash_algo": "sha256",
            "objects": [urls.answer(d, body.operation, signed) for d in result.decisions],
        }
    )


def _check_batch(body: BatchRequest) -> None:
    if "basic" not in body.transfers:
        raise InvalidArgument("only the `basic` transfer adapter is supported")
    if body.hash_algo != "sha256":
        raise _HashAlgo()
    if len(body.objects) > MAX_OBJECTS:
        raise _TooMany()


class _HashAlgo(RepoHubError):
    status_code = 409

    def __init__(self) -> None:
        super().__init__("only the sha256 hash algorithm is supported")


class _TooMany(RepoHubError):
    status_code = 413

    def __init__(self) -> None:
        super().__init__(f"at most {MAX_OBJECTS} objects per batch request")


class TransferUrls:
    """Builds the action hrefs of a batch answer; RepoHub's own are signed, not credentialed."""

    def __init__(self, hub: Hub, base: str, network_id: int) -> None:
        self.secret = hub.settings.resolved_secret_key()
        self.ttl = hub.settings.lfs_url_ttl
        self.base = base
        self.network_id = network_id

    def _url(self, oid: str, suffix: str, claims: dict[str, str | int]) -> str:
        claims = {"oid": oid, "net": self.network_id, **claims}
        signed = signing.sign(self.secret, claims, expires_in=self.ttl)
        return f"{self.base}/lfs-transfer/{oid}{suffix}?{urlencode(signed)}"

    def answer(self, d: lfs_domain.Decision, operation: str, signed: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"oid": d.oid, "size": d.size}
        if d.error:
            item["error"] = {"code": d.error[0], "message": d.error[1]}
            return item
        item["authenticated"] = True
        if operation == "download":
            href = d.download_url or self._url(d.oid, "", {"op": "download", "size": d.size})
            item["actions"] = {"download": self._action(href)}
        elif not d.done:
            item["actions"] = self._upload_actions(d, signed)
        return item

    def _upload_actions(self, d: lfs_domain.Decision, signed: bool) -> dict[str, Any]:
        verify = {"op": "verify", "size": d.size}
        if d.direct is not None:
            upload = self._action(d.direct.href, d.direct.header)
            verify |= {"upload": d.upload_id or "", "enforced": int(signed)}
        else:
            upload = self._action(self._url(d.oid, "", {"op": "upload", "size": d.size}))
        return {"upload": upload, "verify": self._action(self._url(d.oid, "/verify", verify))}

    def _action(self, href: str, header: dict[str, str] | None = None) -> dict[str, Any]:
        action: dict[str, Any] = {"href": href, "expires_in": self.ttl}
        if header:
            action["header"] = header
        return action


# -- transfers through RepoHub ------------------------------------------------------------


def _claims(request: Request, oid: str, op: str) -> dict[str, str]:
    hub: Hub = request.app.state.hub
    claims = signing.verify(hub.settings.resolved_secret_key(), dict(request.query_params))
    if claims.get("op") != op or claims.get("oid") != check_oid(oid):
        raise PermissionDenied("this transfer URL is for another object or operation")
    return claims


@router.put("/lfs-transfer/{oid}")
async def upload(request: Request, oid: str) -> Response:
    try:
        claims = _claims(request, oid, "upload")
        size = int(claims["size"])
        declared = request.headers.get("content-length")
        if declared is not None and int(declared) != size:
            raise InvalidArgument(
                f"Content-Length {declared} differs from the object's size {size}"
            )
        hub: Hub = request.app.state.hub
        reader = BodyReader(request.stream(), gzip=False, limit=size + 1)
        await run_transfer(request, _receive, hub, int(claims["net"]), oid, size, reader)
    except RepoHubError as exc:
        return lfs_error(exc.status_code, exc.message)
    return lfs_json({"message": "stored"})


def _receive(hub: Hub, network_id: int, oid: str, size: int, reader: BodyReader) -> None:
    try:
        lfs_domain.receive_upload(hub, network_id, oid, size, reader)
    finally:
        reader.close()


@router.post("/lfs-transfer/{oid}/verify")
async def verify(request: Request, oid: str) -> Response:
    try:
        claims = _claims(request, oid, "verify")
        claimed = (await json_body(request, VerifyObject)).size
        size = int(claims["size"])
        if claimed not in (None, size):
            raise InvalidArgument(f"this object has {size} bytes, not {claimed}")
        hub: Hub = request.app.state.hub
        await anyio.to_thread.run_sync(
            lambda: lfs_domain.finish_upload(
                hub,
                int(claims["net"]),
                oid,
                size,
                claims.get("upload") or None,
                enforced=claims.get("enforced") == "1",
            )
        )
    except RepoHubError as exc:
        return lfs_error(exc.status_code, exc.message)
    return lfs_json({"message": "verified"})


@router.get("/lfs-transfer/{oid}")
async def download(request: Request, oid: str) -> Response:
    try:
        claims = _claims(request, oid, "download")
        hub: Hub = request.app.state.hub
        size = await anyio.to_thread.run_sync(lfs_domain.can_read, hub, int(claims["net"]), oid)
        if size is None:
            raise NotFound("Object does not exist")
        span = parse_range(request.headers.get("range"), size)
    except RepoHubError as exc:
        return lfs_error(exc.status_code, exc.message, getattr(exc, "headers", None))
    stream = await anyio.to_thread.run_sync(
        lambda: hub.lfs.open(oid, start=span.start, end=span.end)
    )
    headers = {"Content-Length": str(span.length), "Accept-Ranges": "bytes", "ETag": f'"{oid}"'}
    if span.partial:
        headers["Content-Range"] = span.content_range
    return StreamingResponse(
        _chunks(stream),
        status_code=206 if span.partial else 200,
        media_type="application/octet-stream",
        headers=headers,
    )


def _chunks(stream: Any) -> Any:
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


# -- locks --------------------------------------------------------------------------------


def _lock_json(lock: LfsLock) -> dict[str, Any]:
    return {
        "id": str(lock.id),
        "path": lock.path,
        "locked_at": hub_date(lock.locked_at),
        "owner": {"name": lock.owner.name},
    }


async def create_lock(request: Request, repo_type: str, owner: str, name: str) -> Response:
    identity = ANONYMOUS
    try:
        hub, identity, key = await _context(request, repo_type, owner, name)
        lock_body = await json_body(request, LockRequest)
        ref = lock_body.ref.name if lock_body.ref else None
        lock = await anyio.to_thread.run_sync(locks.create, hub, identity, key, lock_body.path, ref)
    except locks.LockExists as exc:
        return lfs_json({"lock": _lock_json(exc.lock), "message": exc.message}, 409)
    except RepoHubError as exc:
        return _domain_error(exc, identity)
    return lfs_json({"lock": _lock_json(lock)}, 201)


async def list_locks(request: Request, repo_type: str, owner: str, name: str) -> Response:
    identity = ANONYMOUS
    try:
        hub, identity, key = await _context(request, repo_type, owner, name)
        q = request.query_params
        found = await anyio.to_thread.run_sync(
            lambda: locks.listing(
                hub,
                identity,
                key,
                needed=Access.READ,
                cursor=q.get("cursor"),
                limit=_limit(q.get("limit")),
                path=q.get("path"),
                lock_id=q.get("id"),
            )
        )
    except RepoHubError as exc:
        return _domain_error(exc, identity)
    answer: dict[str, Any] = {"locks": [_lock_json(lock) for lock in found.locks]}
    if found.next_cursor:
        answer["next_cursor"] = found.next_cursor
    return lfs_json(answer)


async def verify_locks(request: Request, repo_type: str, owner: str, name: str) -> Response:
    identity = ANONYMOUS
    try:
        hub, identity, key = await _context(request, repo_type, owner, name)
        body = await json_body(request, VerifyLocks)
        found = await anyio.to_thread.run_sync(
            lambda: locks.listing(
                hub, identity, key, needed=Access.WRITE, cursor=body.cursor, limit=body.limit
            )
        )
    except RepoHubError as exc:
        return _domain_error(exc, identity)
    ours = [_lock_json(lock) for lock in found.locks if lock.owner_id == identity.user_id]
    theirs = [_lock_json(lock) for lock in found.locks if lock.owner_id != identity.user_id]
    answer: dict[str, Any] = {"ours": ours, "theirs": theirs}
    if found.next_cursor:
        answer["next_cursor"] = found.next_cursor
    return lfs_json(answer)


async def unlock(request: Request, repo_type: str, owner: str, name: str, lock_id: str) -> Response:
    identity = ANONYMOUS
    try:
        hub, identity, key = await _context(request, repo_type, owner, name)
        force = (await json_body(request, UnlockRequest)).force
        lock = await anyio.to_thread.run_sync(
            lambda: locks.unlock(hub, identity, key, lock_id, force=force)
        )
    except RepoHubError as exc:
        return _domain_error(exc, identity)
    return lfs_json({"lock": _lock_json(lock)})


def _limit(value: str | None) -> int | None:
    return None if value in (None, "") else parse_int(value, "limit", minimum=1)


def _register(prefix: str, repo_type: str) -> None:
    base = f"{prefix}/{{owner}}/{{name}}/info/lfs"

    async def _batch(request: Request, owner: str, name: str) -> Response:
        return await batch(request, repo_type, owner, name)

    async def _create(request: Request, owner: str, name: str) -> Response:
        return await create_lock(request, repo_type, owner, name)

    async def _list(request: Request, owner: str, name: str) -> Response:
        return await list_locks(request, repo_type, owner, name)

    async def _verify(request: Request, owner: str, name: str) -> Response:
        return await verify_locks(request, repo_type, owner, name)

    async def _unlock(request: Request, owner: str, name: str, lock_id: str) -> Response:
        return await unlock(request, repo_type, owner, name, lock_id)

    router.add_api_route(
        f"{base}/objects/batch", _batch, methods=["POST"], name=f"{repo_type}-lfs-batch"
    )
    router.add_api_route(f"{base}/locks", _create, methods=["POST"], name=f"{repo_type}-lfs-lock")
    router.add_api_route(f"{base}/locks", _list, methods=["GET"], name=f"{repo_type}-lfs-locks")
    router.add_api_route(
        f"{base}/locks/verify", _verify, methods=["POST"], name=f"{repo_type}-lfs-verify-locks"
    )
    router.add_api_route(
        f"{base}/locks/{{lock_id}}/unlock",
        _unlock,
        methods=["POST"],
        name=f"{repo_type}-lfs-unlock",
    )


_register("", "model")
_register("/datasets", "dataset")
