"""File bytes and listings, as the Hub serves them: `/resolve`, `/raw`, tree and paths-info.

Revisions travel as one URL segment with `/` escaped (`feat%2Fx`), and ASGI servers decode
`%2F` before routing, so these handlers read the undecoded `raw_path`, split it, then unquote
each segment. Every answer about a file carries the commit it was read at (`X-Repo-Commit`):
the Hub client keys its cache, including cached 404s, on it.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from repohub.api.bodies import BodyModel, json_body
from repohub.api.deps import base_url, get_hub, get_identity
from repohub.api.errors import error_response
from repohub.api.hubjson import hub_date
from repohub.api.ranges import RangeNotSatisfiable, parse_range
from repohub.auth.identity import Identity
from repohub.db.models import Repo
from repohub.errors import InvalidArgument
from repohub.repos import files, service
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.files import CommitSummary, FileEntry, Listing, MissingEntry, TreeItem
from repohub.repos.service import RepoKey
from repohub.repos.settings import record_download

router = APIRouter(tags=["files"])
CHUNK_SIZE = 1024 * 1024
TREE_PAGE = 1000
TREE_PAGE_EXPANDED = 50
TRUE = {"1", "true", "yes", "on"}
SAFE_INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp", "audio/", "video/")
# User content shares the origin of the web UI: never let a browser run it as a page.
CONTENT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@dataclass(frozen=True)
class _Target:
    """What the URL names after the repo: a revision and a path (both unquoted)."""

    revision: str
    path: str


def _segments(request: Request, skip: int) -> list[str]:
    """The raw path's segments after the first `skip`, each unquoted on its own."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    text = raw.split(b"?", 1)[0].decode("utf-8", "replace")
    return [unquote(part) for part in text.split("/")[1:][skip:]]


def _target(request: Request, key: RepoKey, marker: str) -> _Target:
    """`{repo}/{marker}/{rev}/{path...}`: `/resolve` and `/raw` after `[/datasets]/{owner}/{name}`,
    `tree` and `paths-info` after `/api/{type}s/{owner}/{name}`."""
    api = marker in ("tree", "paths-info")
    skip = 4 if api else 3 if key.repo_type == "dataset" else 2
    parts = _segments(request, skip)
    if len(parts) < 2 or parts[0] != marker or not parts[1]:
        raise InvalidArgument(f"expected .../{marker}/{{revision}}/{{path}}")
    return _Target(parts[1], "/".join(parts[2:]))


def _flag(value: str | None) -> bool:
    """Hub booleans: httpx clients send `true`, requests-based 0.x clients `True`."""
    return (value or "").strip().lower() in TRUE


# --- /resolve and /raw ---------------------------------------------------------------------


def _metadata(entry: FileEntry) -> dict[str, str]:
    """Headers the client reads on HEAD, on GET and on a redirect alike."""
    headers = {
        "X-Repo-Commit": entry.commit_id,
        "ETag": f'"{entry.etag}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": _disposition(entry.path.rsplit("/", 1)[-1]),
        **CONTENT_HEADERS,
    }
    if entry.lfs is not None:
        headers["X-Linked-Etag"] = f'"{entry.lfs.oid}"'
        headers["X-Linked-Size"] = str(entry.lfs.size)
    return headers


def _xet_headers(request: Request, key: RepoKey, entry: FileEntry) -> dict[str, str]:
    """What makes the Xet client fetch by chunks: the file's Xet hash and where to get a
    read token for the commit (absolute: the client does not resolve relative links)."""
    token = f"{base_url(request)}/api/{key.repo_type}s/{key.owner}/{key.name}/xet-read-token"
    return {
        "X-Xet-Hash": entry.xet_hash or "",
        "Link": f'<{token}/{entry.commit_id}>; rel="xet-auth"',
    }


def _disposition(filename: str) -> str:
    """`inline` with an ASCII fallback name and the exact UTF-8 name (RFC 6266)."""
    fallback = "".join(
        c if c.isascii() and c not in '"\\' and c.isprintable() else "_" for c in filename
    )
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _content_type(path: str) -> str:
    """Text as text/plain, a few media types as themselves, everything else as bytes."""
    guessed, _ = mimetypes.guess_type(path)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/json", "application/x-yaml"):
        return "text/plain; charset=utf-8"
    return guessed if guessed.startswith(SAFE_INLINE) else "application/octet-stream"


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := stream.read(CHUNK_SIZE):
            yield chunk
    finally:
        stream.close()


def _missing(exc: MissingEntry) -> Response:
    response = error_response(404, exc.message, exc.error_code)
    response.headers["X-Repo-Commit"] = exc.commit_id
    return response


def _serve(request: Request, hub: Hub, identity: Identity, key: RepoKey, *, lfs: bool) -> Response:
    target = _target(request, key, "resolve" if lfs else "raw")
    with hub.sessions() as session:
        repo = service.get_repo(session, identity, key, Access.READ)
        repo_id = repo.id
        try:
            entry = files.read_entry(hub, session, repo, target.revision, target.path, lfs=lfs)
        except MissingEntry as exc:
            return _missing(exc)
    headers = _metadata(entry)
    if entry.xet_hash is not None:
        headers.update(_xet_headers(request, key, entry))
    if request.method == "HEAD":
        return _head(entry, headers)
    if lfs and _is_whole_download(request, entry):
        record_download(hub, repo_id)
    url = files.download_url(hub, entry)
    if url is not None:
        # Cross-origin: the client reads the metadata from this answer, not the target's.
        # The URL is a short-lived credential, so no cache may keep the answer.
        headers["Cache-Control"] = "private, no-store"
        return RedirectResponse(url, status_code=302, headers=headers)
    return _get(request, hub, entry, headers)


def _is_whole_download(request: Request, entry: FileEntry) -> bool:
    """A GET that starts at the first byte: a download, counted once. A resumed download
    (a Range past byte 0) or an unsatisfiable one is the same download again, or none; a
    Range from byte 0 still counts, since some clients open every download with one."""
    try:
        return parse_range(request.headers.get("range"), entry.size).start == 0
    except RangeNotSatisfiable:
        return False


def _head(entry: FileEntry, headers: dict[str, str]) -> Response:
    """No body, but the real length: the client checks the download against it."""
    headers = {**headers, "Content-Length": str(entry.size)}
    return Response(status_code=200, headers=headers, media_type=_content_type(entry.path))


def _get(request: Request, hub: Hub, entry: FileEntry, headers: dict[str, str]) -> Response:
    try:
        span = parse_range(request.headers.get("range"), entry.size)
    except RangeNotSatisfiable as exc:
        response = error_response(416, f"{exc.message}: {entry.path}")
        response.headers.update({**headers, **exc.headers})
        return response
    if span.partial:
        headers["Content-Range"] = span.content_range
    headers["Content-Length"] = str(span.length)
    stream = files.open_bytes(hub, entry, start=span.start, end=span.end if span.partial else None)
    return StreamingResponse(
        _chunks(stream),
        status_code=206 if span.partial else 200,
        headers=headers,
        media_type=_content_type(entry.path),
    )


def _download_route(repo_type: str, lfs: bool):  # type: ignore[no-untyped-def]
    """One handler per (type, resolve|raw): a closure, so `lfs` never becomes a query param."""

    def serve(
        request: Request,
        owner: str,
        name: str,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> Response:
        return _serve(request, hub, identity, RepoKey(repo_type, owner, name), lfs=lfs)

    return serve


# --- tree listing and paths-info -----------------------------------------------------------


def tree_json(
    item: TreeItem, last: CommitSummary | None = None, xet_hash: str | None = None
) -> dict[str, Any]:
    """A tree entry as the Hub shapes it: LFS files say `lfs.oid`, `size` is the content's;
    a file the Xet client can fetch by chunks says `xetHash`."""
    out: dict[str, Any] = {"type": item.kind, "oid": item.oid, "size": item.size, "path": item.path}
    if item.lfs is not None:
        out["lfs"] = {"oid": item.lfs.oid, "size": item.lfs.size, "pointerSize": item.pointer_size}
    if xet_hash is not None:
        out["xetHash"] = xet_hash
    if last is not None:
        out["lastCommit"] = {"id": last.id, "title": last.title, "date": hub_date(last.date)}
    return out


def sibling_json(item: TreeItem) -> dict[str, Any]:
    """Repo info's `siblings` with `blobs=true`: the same facts, but `lfs.sha256`."""
    out: dict[str, Any] = {"rfilename": item.path, "size": item.size, "blobId": item.oid}
    if item.lfs is not None:
        out["lfs"] = {
            "sha256": item.lfs.oid,
            "size": item.lfs.size,
            "pointerSize": item.pointer_size,
        }
    return out


def _with_last_commits(
    hub: Hub, repo: Repo, listing: Listing, items: list[TreeItem], expand: bool
) -> list[dict[str, Any]]:
    """Tree JSON for `items`; with `expand`, each with the commit that last changed it."""
    paths = [i.path for i in items]
    last = files.last_commits(hub, repo, listing.commit_id, paths) if expand else {}
    with hub.sessions() as session:
        xet = files.xet_hashes(session, repo, items)
    return [tree_json(i, last.get(i.path), xet.get(i.lfs.oid) if i.lfs else None) for i in items]


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(cursor.encode()).decode()))
    except ValueError as exc:
        raise InvalidArgument("invalid cursor") from exc


def _next_link(request: Request, key: RepoKey, commit_id: str, path: str, offset: int) -> str:
    """An absolute URL (the client fetches it verbatim) pinned to the commit, so a branch
    moving between two pages cannot mix two listings."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", _encode_cursor(offset)))
    where = f"/api/{key.repo_type}s/{key.owner}/{key.name}/tree/{commit_id}"
    if path:
        where += "/" + quote(path, safe="")
    return f'<{base_url(request)}{where}?{urlencode(params)}>; rel="next"'


def _tree(
    request: Request, hub: Hub, identity: Identity, key: RepoKey, query: dict[str, str | None]
) -> Response:
    target = _target(request, key, "tree")
    with hub.sessions() as session:
        repo = service.get_repo(session, identity, key, Access.READ)
        try:
            listing = files.tree_listing(
                hub,
                session,
                repo,
                target.revision,
                target.path,
                recursive=_flag(query["recursive"]),
            )
        except MissingEntry as exc:
            return _missing(exc)
    expand = _flag(query["expand"])
    size = TREE_PAGE_EXPANDED if expand else TREE_PAGE
    offset = _decode_cursor(query["cursor"])
    page = listing.items[offset : offset + size]
    response = JSONResponse(_with_last_commits(hub, repo, listing, page, expand))
    if offset + size < len(listing.items):
        response.headers["Link"] = _next_link(
            request, key, listing.commit_id, files.clean_path(target.path), offset + size
        )
    return response


def _tree_route(repo_type: str):  # type: ignore[no-untyped-def]
    def tree(
        request: Request,
        owner: str,
        name: str,
        recursive: str | None = None,
        expand: str | None = None,
        cursor: str | None = None,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> Response:
        query = {"recursive": recursive, "expand": expand, "cursor": cursor}
        return _tree(request, hub, identity, RepoKey(repo_type, owner, name), query)

    return tree


class PathsInfo(BodyModel):
    """The JSON form of the paths-info call: `paths` (a list, or one path) and `expand`."""

    paths: list[str] | str = Field(default_factory=list)
    expand: bool | str = False


async def _paths_form(request: Request) -> tuple[list[str], bool]:
    """`paths` (repeated) and `expand` from the Hub client's form, or the same keys as JSON."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await json_body(request, PathsInfo)
        paths = [body.paths] if isinstance(body.paths, str) else body.paths
        return paths, _flag(str(body.expand))
    form = await request.form()
    paths = [p for p in form.getlist("paths") if isinstance(p, str)]
    expand = form.get("expand")
    return paths, _flag(expand if isinstance(expand, str) else None)


def _paths_info(
    hub: Hub, identity: Identity, key: RepoKey, revision: str, paths: list[str], expand: bool
) -> list[dict[str, Any]]:
    with hub.sessions() as session:
        repo = service.get_repo(session, identity, key, Access.READ)
        listing = files.paths_info(hub, session, repo, revision, paths)
    return _with_last_commits(hub, repo, listing, listing.items, expand)


def _paths_info_route(repo_type: str):  # type: ignore[no-untyped-def]
    async def paths_info(
        request: Request,
        owner: str,
        name: str,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> list[dict[str, Any]]:
        key = RepoKey(repo_type, owner, name)
        target = _target(request, key, "paths-info")
        paths, expand = await _paths_form(request)
        return await run_in_threadpool(
            _paths_info, hub, identity, key, target.revision, paths, expand
        )

    return paths_info


# Datasets first: `/datasets/{owner}/{name}/resolve/...` would otherwise also read as the model
# `datasets/{owner}` with a path that happens to start with `{name}/resolve`.
for _type, _prefix in (("dataset", "/datasets"), ("model", "")):
    for _marker, _lfs in (("resolve", True), ("raw", False)):
        router.add_api_route(
            f"{_prefix}/{{owner}}/{{name}}/{_marker}/{{rest:path}}",
            _download_route(_type, _lfs),
            methods=["GET", "HEAD"],
            name=f"{_type}-{_marker}",
            response_class=Response,
        )
    router.add_api_route(
        f"/api/{_type}s/{{owner}}/{{name}}/tree/{{rest:path}}",
        _tree_route(_type),
        methods=["GET"],
        name=f"{_type}-tree",
        response_class=Response,
    )
    router.add_api_route(
        f"/api/{_type}s/{{owner}}/{{name}}/paths-info/{{rest:path}}",
        _paths_info_route(_type),
        methods=["POST"],
        name=f"{_type}-paths-info",
    )
