"""Xet on the wire: token endpoints on the Hub API, the CAS, and ranged xorb transfers.

RepoHub is its own CAS, under `/xet-cas` (so one process serves the embedded default), and
the Xet client talks to it exactly as to the Hub's: xorb and shard uploads, reconstruction
(v1; the v2 probes get the 404 that makes the client fall back and remember), global
dedup queries, and byte ranges of xorbs through URLs that RepoHub signs for exactly the
ranges a reconstruction returned, since a xorb may hold other uploads' chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import unquote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from repohub.api.deps import base_url, get_hub, get_identity
from repohub.api.errors import error_response
from repohub.api.runtime import run_transfer
from repohub.api.streams import BodyReader
from repohub.auth import cas_tokens, signing
from repohub.auth.cas_tokens import CasGrant
from repohub.auth.identity import Identity
from repohub.errors import (
    InvalidArgument,
    PayloadTooLarge,
    PermissionDenied,
    RepoHubError,
    Unauthenticated,
)
from repohub.objects.xet.hashes import from_hex, to_hex
from repohub.repos.context import Hub
from repohub.repos.service import RepoKey
from repohub.repos.xet import reads, tokens, uploads
from repohub.repos.xet.reads import Reconstruction

router = APIRouter(include_in_schema=False)
CAS = "/xet-cas"
TRANSFER = "/xet-transfer"
RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
CHUNK = 1024 * 1024


def cas_url(request: Request) -> str:
    return base_url(request) + CAS


# --- tokens on the Hub API -----------------------------------------------------------------


def _revision(request: Request, marker: str) -> str:
    """The revision segment after `marker`, unquoted on its own (`feat%2Fx` is one segment)."""
    raw = (request.scope.get("raw_path") or request.url.path.encode()).split(b"?", 1)[0]
    parts = raw.decode("utf-8", "replace").split("/")
    if marker not in parts or parts.index(marker) != len(parts) - 2 or not parts[-1]:
        raise InvalidArgument(f"expected .../{marker}/{{revision}}")
    return unquote(parts[-1])


def _token_route(repo_type: str, write: bool):  # type: ignore[no-untyped-def]
    marker = f"xet-{'write' if write else 'read'}-token"

    def token(
        request: Request,
        owner: str,
        name: str,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> Response:
        revision = _revision(request, marker)
        create_pr = request.query_params.get("create_pr", "").lower() in ("1", "true")
        issued = tokens.issue(
            hub,
            identity,
            RepoKey(repo_type, owner, name),
            write=write,
            revision=revision,
            create_pr=create_pr,
        )
        url = cas_url(request)
        headers = {
            "X-Xet-Cas-Url": url,
            "X-Xet-Access-Token": issued.token,
            "X-Xet-Token-Expiration": str(issued.expires),
            "Cache-Control": "private, no-store",
        }
        body = {"accessToken": issued.token, "exp": issued.expires, "casUrl": url}
        return JSONResponse(body, headers=headers)

    return token


for _type in ("model", "dataset"):
    for _write in (False, True):
        _kind = "write" if _write else "read"
        router.add_api_route(
            f"/api/{_type}s/{{owner}}/{{name}}/xet-{_kind}-token/{{rest:path}}",
            _token_route(_type, _write),
            methods=["GET"],
            name=f"{_type}-xet-{_kind}-token",
        )


# --- the CAS -------------------------------------------------------------------------------


def _grant(request: Request) -> CasGrant:
    hub: Hub = request.app.state.hub
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("a Xet access token is required (Authorization: Bearer)")
    return cas_tokens.read(hub.settings.resolved_secret_key(), token.strip())


def _cas_error(exc: RepoHubError) -> Response:
    return error_response(exc.status_code, exc.message, exc.error_code)


@router.get(CAS + "/v1/chunks/{prefix}/{chunk_hex}")
def dedup_query(request: Request, prefix: str, chunk_hex: str) -> Response:
    try:
        grant = _grant(request)
        from_hex(chunk_hex)
        answer = reads.dedup(request.app.state.hub, grant, chunk_hex)
    except RepoHubError as exc:
        return _cas_error(exc)
    if answer is None:
        return error_response(404, f"no xorb holds chunk {chunk_hex}")
    return Response(answer, media_type="application/octet-stream")


@router.post(CAS + "/v1/xorb-grants/{prefix}/{xorb_hex}")
def xorb_grant(request: Request, prefix: str, xorb_hex: str) -> Response:
    """No direct-to-storage grants: every xorb comes through RepoHub, which verifies it."""
    return error_response(404, "xorb upload grants are not offered: POST the xorb itself")


@router.post(CAS + "/v1/xorbs/{prefix}/{xorb_hex}")
async def upload_xorb(request: Request, prefix: str, xorb_hex: str) -> Response:
    hub: Hub = request.app.state.hub
    limit = hub.settings.max_xorb_bytes
    try:
        grant = _grant(request)
        expected = from_hex(xorb_hex)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"a xorb may have at most {limit} bytes, not {declared}")
        reader = BodyReader(request.stream(), gzip=False, limit=limit + 1)
        inserted = await run_transfer(request, _receive, hub, grant, expected, reader)
    except RepoHubError as exc:
        return _cas_error(exc)
    return JSONResponse({"was_inserted": inserted})


def _receive(hub: Hub, grant: CasGrant, expected: bytes, reader: BodyReader) -> bool:
    try:
        return uploads.receive_xorb(hub, grant, expected, reader)  # type: ignore[arg-type]
    finally:
        reader.close()


@router.post(CAS + "/v2/shards")
def shard_v2(request: Request) -> Response:
    """Not offered: the client falls back to v1 and remembers."""
    return error_response(404, "use /v1/shards")


@router.post(CAS + "/v1/shards")
async def upload_shard(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    limit = hub.settings.max_shard_bytes
    try:
        grant = _grant(request)
        data = await _body(request, limit)
        registered = await run_in_threadpool(uploads.receive_shard, hub, grant, data)
    except RepoHubError as exc:
        return _cas_error(exc)
    return JSONResponse({"result": 1 if registered.new else 0})


async def _body(request: Request, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"a shard may have at most {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


@router.get(CAS + "/v2/reconstructions/{file_hex}")
def reconstruction_v2(request: Request, file_hex: str) -> Response:
    """Not offered: the client falls back to v1 and remembers."""
    return error_response(404, "use /v1/reconstructions")


@router.get(CAS + "/v1/reconstructions/{file_hex}")
def reconstruction(request: Request, file_hex: str) -> Response:
    hub: Hub = request.app.state.hub
    try:
        grant = _grant(request)
        from_hex(file_hex)
        start, end = _range(request.headers.get("range"))
        found = reads.reconstruction(hub, grant, file_hex, start, end)
    except RepoHubError as exc:
        return _cas_error(exc)
    return JSONResponse(_reconstruction_json(found, TransferUrls(hub, base_url(request))))


def _range(header: str | None) -> tuple[int | None, int | None]:
    if header is None:
        return None, None
    match = RANGE.match(header.strip())
    if match is None:
        raise InvalidArgument(f"unsupported Range {header[:80]!r}: expected bytes=START-END")
    start, end = int(match[1]), int(match[2]) if match[2] else None
    if end is not None and end < start:
        raise InvalidArgument(f"Range {header[:80]!r} ends before it starts")
    return start, end


def _reconstruction_json(found: Reconstruction, urls: TransferUrls) -> dict[str, Any]:
    plan = found.plan
    terms = [
        {
            "hash": to_hex(p.xorb_hash),
            "unpacked_length": p.length,
            "range": {"start": p.chunk_start, "end": p.chunk_end},
        }
        for p in plan.pieces
    ]
    fetch: dict[str, list[dict[str, Any]]] = {}
    for xorb, spans in plan.fetch_ranges().items():
        xorb_hex = to_hex(xorb)
        entries = fetch.setdefault(xorb_hex, [])
        for start, end in spans:
            first, last = found.xorbs[xorb].byte_range(start, end)
            entries.append(
                {
                    "range": {"start": start, "end": end},
                    "url": urls.url(xorb_hex, first, last - 1),
                    "url_range": {"start": first, "end": last - 1},
                }
            )
    return {"offset_into_first_range": plan.skip, "terms": terms, "fetch_info": fetch}


class TransferUrls:
    """Signed, expiring URLs for one byte range of one xorb: no credentials travel with
    them (the client sends none), and they serve no other byte."""

    def __init__(self, hub: Hub, base: str) -> None:
        self.secret = hub.settings.resolved_secret_key()
        self.ttl = hub.settings.lfs_url_ttl
        self.base = base

    def url(self, xorb_hex: str, first: int, last: int) -> str:
        claims = {"x": xorb_hex, "r": f"{first}-{last}"}
        signed = signing.sign(self.secret, claims, expires_in=self.ttl)
        return f"{self.base}{TRANSFER}/{xorb_hex}?{urlencode(signed)}"


@router.get(TRANSFER + "/{xorb_hex}")
def transfer(request: Request, xorb_hex: str) -> Response:
    hub: Hub = request.app.state.hub
    try:
        claims = signing.verify(hub.settings.resolved_secret_key(), dict(request.query_params))
        if claims.get("x") != xorb_hex:
            raise PermissionDenied("this transfer URL is for another xorb")
        signed_first, _, signed_last = claims.get("r", "").partition("-")
        first, last = int(signed_first), int(signed_last)
        asked = _range(request.headers.get("range"))
        if asked != (None, None):
            start, end = asked[0] or 0, asked[1] if asked[1] is not None else last
            if not first <= start <= end <= last:
                raise PermissionDenied(
                    "this transfer URL serves bytes "
                    f"{first}-{last} only: ask for a new reconstruction"
                )
            first, last = start, end
        stream = hub.xet.open_range(xorb_hex, first, last + 1)
    except ValueError:
        return error_response(403, "invalid range on this transfer URL")
    except RepoHubError as exc:
        return _cas_error(exc)
    headers = {"Content-Length": str(last + 1 - first), "Cache-Control": "private, no-store"}
    status = 200
    if asked != (None, None):
        headers["Content-Range"] = f"bytes {first}-{last}/*"
        status = 206
    return StreamingResponse(
        _chunks(stream), status_code=status, media_type="application/octet-stream", headers=headers
    )


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


@router.post("/v1/telemetry")
@router.post(CAS + "/v1/telemetry")
def telemetry(request: Request) -> Response:
    """The Xet client reports transfer statistics to the CAS origin; RepoHub keeps none."""
    return Response(status_code=204)
