"""The Hub's repo calls: create, delete, move, settings, info, list, refs, fork, forks, likes."""

from __future__ import annotations

import base64
from typing import Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ConfigDict, Field
from sqlalchemy.orm import Session

from repohub.api.bodies import BodyModel
from repohub.api.deps import base_url, get_hub, get_identity, get_session
from repohub.api.errors import error_response
from repohub.api.files import sibling_json
from repohub.api.hubjson import hub_date, repo_summary, repo_url
from repohub.auth.identity import Identity
from repohub.db.models import Repo
from repohub.errors import InvalidArgument
from repohub.repos import service
from repohub.repos import settings as repo_settings
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.files import describe_files
from repohub.repos.info import list_refs, snapshot
from repohub.repos.service import RepoExists, RepoKey
from repohub.repos.storage import hub_storage, repo_storage
from repohub.repos.xet import copies
from repohub.repos.xet.accounting import ChunkUsage

router = APIRouter(prefix="/api", tags=["repos"])
PAGE = 100


class CreateRepo(BodyModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    organization: str | None = None
    type: Literal["model", "dataset"] | None = None
    private: bool | None = None
    visibility: Literal["public", "private"] | None = None
    empty: bool = False


class DeleteRepo(BodyModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    organization: str | None = None
    type: Literal["model", "dataset"] | None = None


class MoveRepo(BodyModel):
    """`move_repo`: both ids are `namespace/name`; `type` is always sent by the client."""

    model_config = ConfigDict(extra="ignore")

    fromRepo: str  # noqa: N815 (the Hub's field names)
    toRepo: str  # noqa: N815
    type: Literal["model", "dataset"] | None = None


class RepoSettings(BodyModel):
    """`update_repo_settings`: `visibility` (clients from about 1.8) or `private` (older);
    `gated` is `"auto"`, `"manual"` or false. Other Hub settings are ignored."""

    model_config = ConfigDict(extra="ignore")

    private: bool | None = None
    visibility: Literal["public", "private", "protected"] | None = None
    gated: Literal["auto", "manual", False] | None = None


class ForkRepo(BodyModel):
    model_config = ConfigDict(extra="forbid")

    organization: str | None = None
    name: str | None = None


def _split(name: str, organization: str | None) -> tuple[str | None, str]:
    """Old clients send `name="ns/repo"`; new ones send `organization` and `name` apart."""
    if "/" in name and organization is None:
        owner, _, rest = name.partition("/")
        return owner, rest
    return organization, name


@router.post("/repos/create")
def create_repo(
    request: Request,
    body: CreateRepo,
    hub: Hub = Depends(get_hub),
    identity: Identity = Depends(get_identity),
) -> JSONResponse:
    owner, name = _split(body.name, body.organization)
    private = body.visibility == "private" if body.visibility else bool(body.private)
    try:
        repo = service.create_repo(
            hub,
            identity,
            name=name,
            owner=owner,
            repo_type=body.type,
            private=private,
            empty=body.empty,
        )
    except RepoExists as exc:
        return error_response(
            409,
            exc.message,
            extra={"url": repo_url(base_url(request), exc.repo_type, exc.full_name)},
        )
    url = repo_url(base_url(request), repo.repo_type, repo.full_name)
    return JSONResponse({"url": url, "name": repo.full_name, "id": str(repo.id)})


def _repo_id(value: str, field: str) -> tuple[str, str]:
    owner, slash, name = value.partition("/")
    if not slash or not owner or not name or "/" in name:
        raise InvalidArgument(f"{field} must be namespace/name, like alice/my-model")
    return owner, name


@router.post("/repos/move")
def move_repo(
    request: Request,
    body: MoveRepo,
    hub: Hub = Depends(get_hub),
    identity: Identity = Depends(get_identity),
) -> dict[str, Any]:
    """Rename and/or transfer; the old name keeps working (see `repos.settings.move`)."""
    repo_type = body.type or "model"
    owner, name = _repo_id(body.fromRepo, "fromRepo")
    to_owner, to_name = _repo_id(body.toRepo, "toRepo")
    moved = repo_settings.move(hub, identity, RepoKey(repo_type, owner, name), to_owner, to_name)
    return {"url": repo_url(base_url(request), repo_type, moved), "name": moved}


@router.delete("/repos/delete")
def delete_repo(
    body: DeleteRepo, hub: Hub = Depends(get_hub), identity: Identity = Depends(get_identity)
) -> dict[str, Any]:
    owner, name = _split(body.name, body.organization)
    if owner is None:
        if identity.name is None:
            raise InvalidArgument("name the repo's owner in `organization`")
        owner = identity.name
    service.delete_repo(hub, identity, RepoKey(body.type or "model", owner, name))
    return {}


def _summary(repo: Repo) -> dict[str, Any]:
    """A repo in listings and info, with its stored gating mode (false when not gated)."""
    return {**repo_summary(repo), "gated": repo.gated or False}


def _moved(request: Request, repo: Repo, key: RepoKey) -> RedirectResponse | None:
    """A GET at a moved repo's old name: a 307 to the same URL at the new name, as the Hub
    answers (clients follow it; the rest of the path and the query are kept as sent)."""
    if not service.is_old_name(repo, key):
        return None
    raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    parts = raw.split("?", 1)[0].split("/")  # "", "api", "{type}s", owner, name, ...
    parts[3:5] = [quote(repo.owner.name, safe=""), quote(repo.name, safe="")]
    query = request.url.query
    return RedirectResponse("/".join(parts) + (f"?{query}" if query else ""), status_code=307)


def _info(
    request: Request,
    hub: Hub,
    session: Session,
    identity: Identity,
    key: RepoKey,
    revision: str | None,
    blobs: bool = False,
) -> dict[str, Any] | Response:
    repo = service.get_repo(session, identity, key, Access.READ)
    if (moved := _moved(request, repo, key)) is not None:
        return moved
    snap = snapshot(hub, session, repo, revision)
    siblings = [{"rfilename": e.path} for e in snap.files]
    if blobs:  # sizes cost a read of every blob: only when asked (files_metadata=True)
        siblings = [sibling_json(item) for item in describe_files(hub, repo, snap.files)]
    return {
        **_summary(repo),
        "sha": snap.sha,
        "siblings": siblings,
        "cardData": {},
    }


def _info_route(repo_type: str) -> None:
    plural = f"{repo_type}s"

    @router.get(f"/{plural}/{{owner}}/{{name}}", name=f"{repo_type}-info", response_model=None)
    def info(
        request: Request,
        owner: str,
        name: str,
        blobs: bool = False,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
        session: Session = Depends(get_session),
    ) -> dict[str, Any] | Response:
        key = RepoKey(repo_type, owner, name)
        return _info(request, hub, session, identity, key, None, blobs)

    @router.get(
        f"/{plural}/{{owner}}/{{name}}/revision/{{revision:path}}",
        name=f"{repo_type}-rev",
        response_model=None,
    )
    def info_at(
        request: Request,
        owner: str,
        name: str,
        revision: str,
        blobs: bool = False,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
        session: Session = Depends(get_session),
    ) -> dict[str, Any] | Response:
        key = RepoKey(repo_type, owner, name)
        return _info(request, hub, session, identity, key, revision, blobs)

    @router.get(f"/{plural}/{{owner}}/{{name}}/refs", name=f"{repo_type}-refs", response_model=None)
    def refs(
        request: Request,
        owner: str,
        name: str,
        include_prs: bool = False,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
        session: Session = Depends(get_session),
    ) -> dict[str, Any] | Response:
        key = RepoKey(repo_type, owner, name)
        repo = service.get_repo(session, identity, key, Access.READ)
        if (moved := _moved(request, repo, key)) is not None:
            return moved
        listing = list_refs(hub, session, repo)

        def items(pairs: list[tuple[str, str]], prefix: str) -> list[dict[str, str]]:
            return [{"name": n[len(prefix) :], "ref": n, "targetCommit": t} for n, t in pairs]

        answer = {
            "branches": items(listing.branches, "refs/heads/"),
            "tags": items(listing.tags, "refs/tags/"),
            "converts": items(listing.converts, "refs/convert/"),
        }
        if include_prs:
            answer["pullRequests"] = items(listing.pulls, "refs/pr/")
        return answer

    @router.post(f"/{plural}/{{owner}}/{{name}}/fork", name=f"{repo_type}-fork")
    def fork(
        request: Request,
        owner: str,
        name: str,
        body: ForkRepo | None = Body(default=None),
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> JSONResponse:
        body = body or ForkRepo()
        try:
            repo = service.fork_repo(
                hub,
                identity,
                RepoKey(repo_type, owner, name),
                owner=body.organization,
                name=body.name,
            )
        except RepoExists as exc:
            return error_response(
                409,
                exc.message,
                extra={"url": repo_url(base_url(request), exc.repo_type, exc.full_name)},
            )
        return JSONResponse(
            {
                "url": repo_url(base_url(request), repo.repo_type, repo.full_name),
                "name": repo.full_name,
                "id": str(repo.id),
                "forkedFrom": f"{owner}/{name}",
            }
        )

    @router.get(f"/{plural}/{{owner}}/{{name}}/forks", name=f"{repo_type}-forks")
    def forks(
        owner: str,
        name: str,
        identity: Identity = Depends(get_identity),
        session: Session = Depends(get_session),
    ) -> list[dict[str, Any]]:
        parent = service.get_repo(session, identity, RepoKey(repo_type, owner, name), Access.READ)
        return [_summary(r) for r in service.list_forks(session, identity, parent)]

    @router.get(f"/{plural}", name=f"{repo_type}-list")
    def listing(
        request: Request,
        response: Response,
        search: str | None = None,
        author: str | None = None,
        sort: str | None = None,
        direction: str | None = None,
        limit: int | None = Query(default=None, ge=1, le=10_000),
        cursor: str | None = None,
        identity: Identity = Depends(get_identity),
        session: Session = Depends(get_session),
    ) -> list[dict[str, Any]]:
        offset = _decode_cursor(cursor)
        page = min(limit or PAGE, PAGE)
        repos = service.list_repos(
            session,
            identity,
            repo_type=repo_type,
            search=search,
            author=author,
            sort=sort,
            limit=page + 1,
            offset=offset,
        )
        if len(repos) > page and (limit is None or offset + page < limit):
            _link_next(request, response, f"/api/{plural}", offset + page)
        return [_summary(r) for r in repos[:page]]


def _link_next(request: Request, response: Response, path: str, offset: int) -> None:
    """The Hub's pagination: an absolute `Link: <...>; rel="next"` with every parameter
    kept and a cursor, fetched verbatim by the client (a relative URL fails)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", _encode_cursor(offset)))
    response.headers["Link"] = f'<{base_url(request)}{path}?{urlencode(params)}>; rel="next"'


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(cursor.encode()).decode()))
    except ValueError as exc:
        raise InvalidArgument("invalid cursor") from exc


for _type in ("model", "dataset"):
    _info_route(_type)


def _manage_routes(repo_type: str) -> None:
    plural = f"{repo_type}s"

    @router.put(f"/{plural}/{{owner}}/{{name}}/settings", name=f"{repo_type}-settings")
    def update_settings(
        owner: str,
        name: str,
        body: RepoSettings,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        """`update_repo_settings` (admins of the repo); the answer is the settings now."""
        if body.visibility == "protected":
            raise InvalidArgument("'protected' visibility is for Spaces: use public or private")
        private = body.visibility == "private" if body.visibility else body.private
        if private is None and body.gated is None:
            raise InvalidArgument("send at least one setting: visibility, private or gated")
        now = repo_settings.update_settings(
            hub, identity, RepoKey(repo_type, owner, name), private=private, gated=body.gated
        )
        visibility = "private" if now.private else "public"
        return {"private": now.private, "visibility": visibility, "gated": now.gated or False}

    @router.post(f"/{plural}/{{owner}}/{{name}}/like", name=f"{repo_type}-like")
    def like(
        owner: str,
        name: str,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        key = RepoKey(repo_type, owner, name)
        return {"liked": True, "likes": repo_settings.set_like(hub, identity, key, liked=True)}

    @router.delete(f"/{plural}/{{owner}}/{{name}}/like", name=f"{repo_type}-unlike")
    def unlike(
        owner: str,
        name: str,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        key = RepoKey(repo_type, owner, name)
        return {"liked": False, "likes": repo_settings.set_like(hub, identity, key, liked=False)}

    @router.get(f"/{plural}/{{owner}}/{{name}}/likers", name=f"{repo_type}-likers")
    def likers(
        request: Request,
        response: Response,
        owner: str,
        name: str,
        cursor: str | None = None,
        identity: Identity = Depends(get_identity),
        session: Session = Depends(get_session),
    ) -> list[dict[str, Any]]:
        """`list_repo_likers`: who liked the repo, a page at a time."""
        offset = _decode_cursor(cursor)
        key = RepoKey(repo_type, owner, name)
        people = repo_settings.likers(session, identity, key, limit=PAGE + 1, offset=offset)
        if len(people) > PAGE:
            _link_next(request, response, f"/api/{plural}/{owner}/{name}/likers", offset + PAGE)
        return [
            {"user": p.name, "fullname": p.fullname, "type": "user", "avatarUrl": ""}
            for p in people[:PAGE]
        ]


for _type in ("model", "dataset"):
    _manage_routes(_type)


@router.get("/users/{username}/likes")
def liked_repos(
    request: Request,
    response: Response,
    username: str,
    cursor: str | None = None,
    identity: Identity = Depends(get_identity),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:
    """`list_liked_repos`: a user's likes, newest first, of the repos the caller can see."""
    offset = _decode_cursor(cursor)
    liked = repo_settings.liked_by(session, identity, username, limit=PAGE + 1, offset=offset)
    if len(liked) > PAGE:
        _link_next(request, response, f"/api/users/{username}/likes", offset + PAGE)
    return [
        {
            "createdAt": hub_date(item.liked_at),
            "repo": {"name": item.full_name, "type": item.repo_type},
        }
        for item in liked[:PAGE]
    ]


def _chunk_json(usage: ChunkUsage) -> dict[str, int]:
    return {
        "files": usage.files,
        "fileBytes": usage.file_bytes,
        "chunks": usage.chunks,
        "chunkBytes": usage.chunk_bytes,
        "dedupSavedBytes": usage.dedup_saved,
    }


class CopyTarget(BodyModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["model", "dataset"] = "model"
    name: str


class CopiedFile(BodyModel):
    model_config = ConfigDict(extra="ignore")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    xetHash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")  # noqa: N815


class DuplicateFiles(BodyModel):
    """`lfs-files/duplicate`, as 2.4.0 sends it (batches of at most 1,000)."""

    model_config = ConfigDict(extra="ignore")

    target: CopyTarget
    files: list[CopiedFile] = Field(max_length=1000)


def _copy_routes(repo_type: str) -> None:
    @router.post(
        f"/{repo_type}s/{{owner}}/{{name}}/lfs-files/duplicate", name=f"{repo_type}-lfs-copy"
    )
    def duplicate(
        owner: str,
        name: str,
        body: DuplicateFiles,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        """Let the target repo commit this repo's large files (a cross-repo copy)."""
        to_owner, to_name = _repo_id(body.target.name, "target.name")
        failed = copies.duplicate(
            hub,
            identity,
            RepoKey(repo_type, owner, name),
            RepoKey(body.target.type, to_owner, to_name),
            [copies.CopyRequest(f.sha256, f.xetHash) for f in body.files],
        )
        return {"failed": [{"sha256": f.sha256, "error": f.error} for f in failed]}


def _storage_routes(repo_type: str) -> None:
    @router.get(f"/{repo_type}s/{{owner}}/{{name}}/storage", name=f"{repo_type}-storage")
    def storage(
        owner: str,
        name: str,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        """What this repo references, and what its fork network stores (shared by forks)."""
        usage = repo_storage(hub, identity, RepoKey(repo_type, owner, name))
        return {
            "lfs": {
                "referencedObjects": usage.referenced_lfs.objects,
                "referencedBytes": usage.referenced_lfs.bytes,
                "networkObjects": usage.network_lfs.objects,
                "networkBytes": usage.network_lfs.bytes,
            },
            "git": {"networkBytes": usage.network_git_bytes},
            "xet": {
                "referenced": _chunk_json(usage.referenced_xet),
                "network": _chunk_json(usage.network_xet),
            },
            "networkStoredBytes": usage.network_stored_bytes,
        }


for _type in ("model", "dataset"):
    _storage_routes(_type)
    _copy_routes(_type)


@router.get("/storage")
def hub_storage_route(
    hub: Hub = Depends(get_hub), identity: Identity = Depends(get_identity)
) -> dict[str, Any]:
    """Bytes stored for the whole hub: each LFS object counted once, each Xet chunk once
    (site administrators)."""
    usage = hub_storage(hub, identity)
    xet = usage.xet
    return {
        "lfs": {"objects": usage.lfs.objects, "bytes": usage.lfs.bytes},
        "plainLfsBytes": usage.plain_lfs_bytes,
        "git": {"bytes": usage.git_bytes},
        "xet": {
            "files": xet.files,
            "fileBytes": xet.file_bytes,
            "xorbs": xet.xorbs,
            "chunkBytes": xet.chunk_bytes,
            "storedBytes": xet.stored_bytes,
            "dedupSavedBytes": xet.dedup_saved,
        },
        "storedBytes": usage.stored_bytes,
    }
