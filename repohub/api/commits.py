"""Writes as the Hub client makes them: validate-yaml, preupload and the NDJSON commit.

Thin: parse each call into typed operations, ask `repohub.git.commits` to commit, answer in
the Hub's shape. The wire protocol is the one `huggingface_hub` speaks (its `create_commit`
and everything built on it).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from repohub.api.bodies import BodyModel, DbId, InvalidBody, decode_json, json_body, parse
from repohub.api.deps import base_url, get_hub, get_identity
from repohub.auth.identity import Identity
from repohub.errors import RevisionNotFound, Unprocessable
from repohub.git import commits
from repohub.repos import files, patterns, service
from repohub.repos.access import Access
from repohub.repos.cards import parse_card
from repohub.repos.context import Hub
from repohub.repos.service import RepoKey

router = APIRouter(prefix="/api", tags=["uploads"])
MAX_PREUPLOAD_FILES = 1000
REGULAR_LIMIT = 1024 * 1024  # larger files go to LFS: regular bytes travel base64 in the commit
SAMPLE_BYTES = 512
ATTRIBUTES = ".gitattributes"


class YamlCheck(BodyModel):
    content: str
    repoType: str | None = None  # noqa: N815 - the Hub's spelling


@router.post("/validate-yaml")
def validate_yaml(body: YamlCheck) -> JSONResponse:
    """Check a model card's YAML front matter, with the parser the model page uses."""
    card = parse_card(body.content)
    if card.error:
        return JSONResponse({"errors": [{"message": card.error}], "warnings": []}, 400)
    return JSONResponse({"errors": [], "warnings": []})


class PreuploadFile(BodyModel):
    path: str
    sample: str = ""
    size: DbId = 0


class Preupload(BodyModel):
    files: list[PreuploadFile] = Field(max_length=MAX_PREUPLOAD_FILES)
    gitIgnore: str | None = None  # noqa: N815 - the Hub's spelling


def _is_binary(sample: str) -> bool:
    try:
        head = base64.b64decode(sample, validate=False)[:SAMPLE_BYTES]
    except (binascii.Error, ValueError):
        return False
    return b"\x00" in head


def _preupload(
    hub: Hub, identity: Identity, key: RepoKey, revision: str, body: Preupload
) -> dict[str, Any]:
    paths = [f.path for f in body.files]
    for path in paths:
        commits.split_path(path)
    with hub.sessions() as session:
        repo = service.get_repo(session, identity, key, Access.WRITE)
        try:
            existing = files.paths_info(hub, session, repo, revision, [*paths, ATTRIBUTES])
        except RevisionNotFound:
            existing = files.Listing("", [])  # an empty repo: nothing is there yet
        now = {item.path: item for item in existing.items if item.kind == "file"}
        attributes = (
            files.read_entry(hub, session, repo, existing.commit_id, ATTRIBUTES, lfs=False)
            if ATTRIBUTES in now
            else None
        )
    rules = patterns.parse(_text(hub, attributes) if attributes else "")
    answer = []
    for f in body.files:
        lfs = f.size > 0 and (
            patterns.is_lfs(rules, f.path) or f.size > REGULAR_LIMIT or _is_binary(f.sample)
        )
        item: dict[str, Any] = {
            "path": f.path,
            "uploadMode": "lfs" if lfs else "regular",
            "shouldIgnore": bool(body.gitIgnore) and patterns.ignored(body.gitIgnore or "", f.path),
        }
        found = now.get(f.path)
        if found is not None:
            item["oid"] = found.lfs.oid if found.lfs is not None else found.oid
        answer.append(item)
    return {"files": answer}


def _text(hub: Hub, entry: files.FileEntry) -> str:
    with files.open_bytes(hub, entry) as stream:
        return stream.read(1024 * 1024).decode("utf-8", "replace")


class CommitHeader(BodyModel):
    summary: str = ""
    description: str = ""
    parentCommit: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{5,40}$")  # noqa: N815


class FileLine(BodyModel):
    path: str
    content: str
    encoding: Literal["base64"] = "base64"


class LfsFileLine(BodyModel):
    path: str
    oid: str
    algo: Literal["sha256"] = "sha256"
    size: DbId | None = None


class DeletedLine(BodyModel):
    path: str


class Line(BodyModel):
    key: Literal["header", "file", "lfsFile", "deletedFile", "deletedFolder"]
    value: dict[str, Any]


def _operation(line: Line, number: int) -> commits.Operation:
    try:
        if line.key == "file":
            f = parse(FileLine, line.value)
            return commits.AddFile(f.path, base64.b64decode(f.content, validate=True))
        if line.key == "lfsFile":
            lfs = parse(LfsFileLine, line.value)
            return commits.AddLfsFile(lfs.path, lfs.oid, lfs.size)
        deleted = parse(DeletedLine, line.value)
    except InvalidBody as exc:
        raise InvalidBody([f"line {number}: {exc.message}"]) from None
    except (binascii.Error, ValueError):
        raise InvalidBody([f"line {number}: `content` is not valid base64"]) from None
    if line.key == "deletedFile":
        return commits.DeleteFile(deleted.path)
    return commits.DeleteFolder(deleted.path.rstrip("/"))


def parse_commit(raw: bytes, branch: str) -> commits.CommitRequest:
    """The NDJSON body: a header line first, then one operation per line."""
    lines = [line for line in raw.split(b"\n") if line.strip()]
    if not lines:
        raise InvalidBody(["the body is empty: expected a header line, then operations"])
    parsed = []
    for number, text in enumerate(lines, 1):
        try:
            parsed.append(parse(Line, decode_json(text)))
        except InvalidBody as exc:
            raise InvalidBody([f"line {number}: {exc.message}"]) from None
    if parsed[0].key != "header":
        raise InvalidBody(['line 1: the first line must be the header (`"key": "header"`)'])
    header = parse(CommitHeader, parsed[0].value)
    if any(p.key == "header" for p in parsed[1:]):
        raise InvalidBody(["only the first line may be the header"])
    operations = [_operation(line, n) for n, line in enumerate(parsed[1:], 2)]
    return commits.CommitRequest(
        branch, operations, header.summary, header.description, header.parentCommit
    )


class Squash(BodyModel):
    message: str = ""


def _commit_url(request: Request, key: RepoKey, oid: str) -> str:
    prefix = "datasets/" if key.repo_type == "dataset" else ""
    return f"{base_url(request)}/{prefix}{key.owner}/{key.name}/commit/{oid}"


def _register(repo_type: str) -> None:
    base = f"/{repo_type}s/{{owner}}/{{name}}"

    async def preupload(
        owner: str,
        name: str,
        rev: str,
        request: Request,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        """How each file is to be uploaded: inline (`regular`) or through LFS, and the object
        at that path now, so unchanged files are skipped."""
        body = await json_body(request, Preupload)
        key = RepoKey(repo_type, owner, name)
        return await run_in_threadpool(_preupload, hub, identity, key, rev, body)

    async def commit(
        owner: str,
        name: str,
        rev: str,
        request: Request,
        create_pr: str | None = None,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        """Commit NDJSON operations to the branch `rev` (`header` first, then `file`,
        `lfsFile`, `deletedFile`, `deletedFolder`); 412 when `parentCommit` is not its head."""
        if create_pr and create_pr.strip().lower() in ("1", "true"):
            raise Unprocessable("pull requests are not supported yet: commit to a branch")
        parsed = parse_commit(await request.body(), rev)
        key = RepoKey(repo_type, owner, name)
        done = await run_in_threadpool(commits.commit, hub, identity, key, parsed)
        return {
            "commitOid": done.commit_id,
            "commitUrl": _commit_url(request, key, done.commit_id),
            "commitMessage": parsed.summary,
            "success": True,
        }

    async def super_squash(
        owner: str,
        name: str,
        branch: str,
        body: Squash | None = None,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> dict[str, Any]:
        """Replace the branch's history by one commit of its current tree (admins only)."""
        key = RepoKey(repo_type, owner, name)
        message = body.message if body else ""
        oid = await run_in_threadpool(commits.super_squash, hub, identity, key, branch, message)
        return {"commitOid": oid}

    router.add_api_route(
        f"{base}/super-squash/{{branch:path}}",
        super_squash,
        methods=["POST"],
        name=f"{repo_type}-super-squash",
    )
    router.add_api_route(
        f"{base}/preupload/{{rev:path}}", preupload, methods=["POST"], name=f"{repo_type}-preupload"
    )
    router.add_api_route(
        f"{base}/commit/{{rev:path}}",
        commit,
        methods=["POST"],
        name=f"{repo_type}-commit",
        openapi_extra={
            "requestBody": {
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                "required": True,
            }
        },
    )


_register("model")
_register("dataset")
