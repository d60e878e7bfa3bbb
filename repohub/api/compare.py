"""The compare API: two versions of a model or dataset side by side, the A/B evaluation
that makes two models comparable on the same data, and the fixed/broken samples as a zip.

Thin: parse `{base}...{head}`, call `repohub.compare.service`, answer its dict as it is
(with `Server-Timing: app;dur=<ms>`: building and serialising it, for measuring).
Unknown or invisible revisions answer 404 with `X-Error-Code: RevisionNotFound` (or
`RepoNotFound`), through the API's one error handler.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import ConfigDict, Field

from repohub.api.bodies import BodyModel
from repohub.api.deps import get_hub, get_identity
from repohub.auth.identity import Identity
from repohub.compare import service
from repohub.compare.revisions import split_range
from repohub.repos.context import Hub
from repohub.repos.service import RepoKey

router = APIRouter(prefix="/api", tags=["compare"])

_SIDE = {
    "type": "object",
    "properties": {
        "spec": {"type": "string", "description": "as written in the URL"},
        "repo": {"type": "string", "description": "owner/name the side was read from"},
        "ref": {"type": ["string", "null"]},
        "sha": {"type": "string"},
    },
}
_OBJECT = {"type": "object"}
_LIST = {"type": "array", "items": {"type": "object"}}
COMPARE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The full shape is documented in repohub/compare/service.py.",
    "properties": {
        "repo": {"type": "string"},
        "repo_type": {"type": "string", "enum": ["model", "dataset"]},
        "base": _SIDE,
        "head": _SIDE,
        "merge_base": {"type": ["string", "null"]},
        "ahead_by": {"type": "integer"},
        "behind_by": {"type": "integer"},
        "commits": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sha": {"type": "string"},
                    "title": {"type": "string"},
                    "author": {"type": "string"},
                    "date": {"type": "string", "format": "date-time"},
                },
            },
        },
        "reports": _OBJECT,
        "missing": _LIST,
        "verdicts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "metric": {"type": "string"},
                    "split": {"type": "string"},
                    "base": {"type": "number"},
                    "head": {"type": "number"},
                    "delta": {"type": "number"},
                    "better": {"type": ["string", "null"], "enum": ["higher", "lower", None]},
                    "verdict": {"type": "string"},
                },
            },
        },
        "metrics": _OBJECT,
        "dataset_mismatch": {"type": ["object", "null"]},
        "curves": _OBJECT,
        "per_class": _LIST,
        "confusion": {"type": ["object", "null"]},
        "samples": _OBJECT,
        "config": _OBJECT,
        "files": {
            "type": "object",
            "properties": {"truncated": {"type": "boolean"}, "changed": _LIST},
        },
        "ab": {"type": ["object", "null"]},
    },
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown repo or revision (X-Error-Code: RepoNotFound/RevisionNotFound)"},
    422: {"description": "a side from a repo outside this fork network, or a bad range"},
}


class Evaluate(BodyModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str | None = Field(
        default=None,
        description="owner/name[@revision] of a dataset repo; default: the one head trained on",
    )


def _compare(repo_type: str):  # type: ignore[no-untyped-def]
    def compare(
        owner: str,
        name: str,
        spec: str,
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> JSONResponse:
        """Everything that differs between `base` and `head`: commits between them, changed
        files (text hunks, LFS sizes and sha256, safetensors tensors from headers only), the
        configuration, and the two sides' reports: verdicts per headline metric, metrics per
        split, curves, per-class figures, confusion matrices, fixed and broken samples, and an
        A/B evaluation if one ran. `base`/`head`: branch, tag, sha, or `fork_owner:branch`."""
        started = time.perf_counter()
        base, head = split_range(spec)
        key = RepoKey(repo_type, owner, name)
        answer = JSONResponse(service.build_compare(hub, identity, key, base, head))
        elapsed = (time.perf_counter() - started) * 1000
        answer.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
        return answer

    return compare


def _evaluate(repo_type: str):  # type: ignore[no-untyped-def]
    def evaluate(
        owner: str,
        name: str,
        spec: str,
        body: Evaluate | None = Body(default=None),
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> JSONResponse:
        """Start an A/B evaluation: both sides' trained weights on one dataset revision, with
        paired per-sample predictions, McNemar's test and a bootstrap 95% interval of the
        accuracy difference. 201 for a new job, 200 when the same comparison already has one."""
        base, head = split_range(spec)
        key = RepoKey(repo_type, owner, name)
        dataset = body.dataset if body is not None else None
        started = service.start_ab(hub, identity, key, base, head, dataset)
        status = 201 if started["new"] else 200
        return JSONResponse(
            {**started, "urls": {"job": f"/api/jobs/{started['job_id']}"}}, status_code=status
        )

    return evaluate


def _samples(repo_type: str):  # type: ignore[no-untyped-def]
    def samples(
        owner: str,
        name: str,
        spec: str,
        which: str = Query("all", alias="set", description="fixed, broken or all"),
        hub: Hub = Depends(get_hub),
        identity: Identity = Depends(get_identity),
    ) -> Response:
        """The samples head fixes and/or breaks, with a samples.csv, as a zip."""
        base, head = split_range(spec)
        key = RepoKey(repo_type, owner, name)
        data = service.samples_zip(hub, identity, key, base, head, which)
        headers = {"Content-Disposition": f'attachment; filename="{name}-{which}-samples.zip"'}
        return Response(data, media_type="application/zip", headers=headers)

    return samples


for _type in ("model", "dataset"):
    _base = f"/{_type}s/{{owner}}/{{name}}/compare/{{spec:path}}"
    _ok = {200: {"content": {"application/json": {"schema": COMPARE_SCHEMA}}}}
    router.add_api_route(
        f"{_base}/samples.zip",
        _samples(_type),
        methods=["GET"],
        summary=f"Fixed and broken samples of a {_type} compare, as a zip",
        responses={200: {"content": {"application/zip": {}}}, **_ERRORS},
    )
    router.add_api_route(
        _base,
        _compare(_type),
        methods=["GET"],
        summary=f"Compare two versions of a {_type} repo",
        responses={**_ok, **_ERRORS},
    )
router.add_api_route(
    "/models/{owner}/{name}/compare/{spec:path}/evaluate",
    _evaluate("model"),
    methods=["POST"],
    status_code=201,
    summary="Start an A/B evaluation of two model versions",
    responses=_ERRORS,
)
