"""Storing what a run produced: the weights as an LFS object, the report as a row.

The weights go through the same path as a `git lfs push` (`repos.lfs.receive_upload`): hashed
while streamed, stored once for the whole hub however many jobs produce the same bytes, and
granted to the model repo's fork network so Publish can commit a pointer to them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from repohub.db.jobs import Job, Report
from repohub.eval.paired import build_ab_report
from repohub.eval.report import build_report, headline
from repohub.repos.context import Hub
from repohub.repos.lfs import receive_upload

CHUNK = 1024 * 1024


def store_weights(hub: Hub, network_id: int, path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    oid, size = digest.hexdigest(), path.stat().st_size
    with path.open("rb") as stream:
        receive_upload(hub, network_id, oid, size, stream)
    return oid, size


def save_report(
    hub: Hub,
    job: Job,
    raw: dict[str, Any],
    context: dict[str, Any],
    metrics: tuple[str, ...] | None,
    weights: tuple[str, int] | None,
) -> Report:
    data = (
        build_ab_report(raw, context)
        if raw["kind"] == "ab"
        else build_report(raw, context, metrics)
    )
    if weights is not None:
        data["weights"] = {"oid": weights[0], "size": weights[1], "format": "safetensors"}
    report = Report(
        job_id=job.id,
        repo_id=job.repo_id,
        network_id=job.network_id,
        commit_sha=job.commit_sha,
        spec_hash=job.spec_hash,
        kind=job.kind,
        headline=headline(data),
        data=data,
        weights_oid=weights[0] if weights else None,
        weights_size=weights[1] if weights else None,
    )
    with hub.sessions.begin() as session:
        # an earlier attempt may have stored its report and died before finishing the job
        session.execute(delete(Report).where(Report.job_id == job.id))
        session.add(report)
    return report
