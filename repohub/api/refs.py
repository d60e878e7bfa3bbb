"""Branches, tags and history as the Hub client manages them: `create_branch`,
`delete_branch`, `create_tag`, `delete_tag` and `list_repo_commits`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from repohub.api.bodies import BodyModel
from repohub.api.deps import base_url, get_hub, get_identity
from repohub.api.hubjson import hub_date
from repohub.auth.identity import Identity
from repohub.git import branches
from repohub.repos import history, service
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.limits import INT64_MAX
from repohub.repos.reading import resolve_revision
from repohub.repos.service import RepoKey

router = APIRouter(prefix="/api", tags=["refs"])
COMMITS_PAGE = 50


class NewBranch(BodyModel):
    startingPoint: str | None = None  # noqa: N815 - the Hub's spelling


class NewTag(BodyModel):
    tag: str
    message: str | None = None


def _commits(
    hub: Hub, identity: Identity, key: RepoKey, revision: str, page: int
) -> tuple[list[history.LoggedCommit], bool]:
    with hub.sessions() as session:
        repo = service.get_repo(session, identity, key, Access.READ)
        store = hub.stores.get(repo.network_id)
        start = resolve_revision(session, store, repo, revision)
    return history.log_page(store, start, page * COMMITS_PAGE, COMMITS_PAGE)


def _commit_json(c: history.LoggedCommit, formatted: bool) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "message": c.message,
        "date": hub_date(c.date),
        "authors": [{"user": c.author}],
    }
    if formatted:
        shape["formatted"] = {"title": c.title, "message": c.message}
    return shape


def _register(repo_type: str) -> None:
    base = f"/{repo_type}s/{{owner}}/{{name}}"

    async def create_branch(
        owner: str,
        name: str,
        branch: str,
        body: NewBranch | None = Body(default=None),
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        """A branch at `startingPoint` (default: the default branch's head); 409 if it exists."""
        start = body.startingPoint if body else None
        key = RepoKey(repo_type, owner, name)
        await run_in_threadpool(branches.create_branch, hub, identity, key, branch, start)
        return {"name": branch, "ref": f"refs/heads/{branch}"}

    async def delete_branch(
        owner: str,
        name: str,
        branch: str,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        key = RepoKey(repo_type, owner, name)
        await run_in_threadpool(branches.delete_branch, hub, identity, key, branch)
        return {"deleted": f"refs/heads/{branch}"}

    async def create_tag(
        owner: str,
        name: str,
        revision: str,
        body: NewTag,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        """Tag `revision` (annotated when a message is given); 409 if the tag exists."""
        key = RepoKey(repo_type, owner, name)
        await run_in_threadpool(
            branches.create_tag, hub, identity, key, revision, body.tag, body.message
        )
        return {"name": body.tag, "ref": f"refs/tags/{body.tag}"}

    async def delete_tag(
        owner: str,
        name: str,
        tag: str,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        key = RepoKey(repo_type, owner, name)
        await run_in_threadpool(branches.delete_tag, hub, identity, key, tag)
        return {"deleted": f"refs/tags/{tag}"}

    async def list_commits(
        owner: str,
        name: str,
        revision: str,
        request: Request,
        p: int = Query(0, ge=0, le=INT64_MAX, description="page, from 0"),
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> Response:
        """Commits reachable from `revision`, newest first, paged by `Link: rel="next"`."""
        key = RepoKey(repo_type, owner, name)
        page, more = await run_in_threadpool(_commits, hub, identity, key, revision, p)
        params = request.query_params
        formatted = "formatted" in params.getlist("expand[]") + params.getlist("expand")
        answer = JSONResponse([_commit_json(c, formatted) for c in page])
        if more:
            rest = [(k, v) for k, v in params.multi_items() if k != "p"] + [("p", str(p + 1))]
            where = f"{base_url(request)}{request.url.path}?{urlencode(rest)}"
            answer.headers["Link"] = f'<{where}>; rel="next"'
        return answer

    names = f"{repo_type}-"
    router.add_api_route(
        f"{base}/branch/{{branch:path}}",
        create_branch,
        methods=["POST"],
        name=names + "create-branch",
    )
    router.add_api_route(
        f"{base}/branch/{{branch:path}}",
        delete_branch,
        methods=["DELETE"],
        name=names + "delete-branch",
    )
    router.add_api_route(
        f"{base}/tag/{{revision:path}}", create_tag, methods=["POST"], name=names + "create-tag"
    )
    router.add_api_route(
        f"{base}/tag/{{tag:path}}", delete_tag, methods=["DELETE"], name=names + "delete-tag"
    )
    router.add_api_route(
        f"{base}/commits/{{revision:path}}", list_commits, methods=["GET"], name=names + "commits"
    )


_register("model")
_register("dataset")
