"""Hub JSON shapes of RepoHub objects (dates end in `Z`, as the Hub client requires)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from repohub.db.models import Repo


def hub_date(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def repo_url(base: str, repo_type: str, full_name: str) -> str:
    prefix = "datasets/" if repo_type == "dataset" else ""
    return f"{base}/{prefix}{full_name}"


def repo_summary(repo: Repo) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "_id": str(repo.id),
        "id": repo.full_name,
        "author": repo.owner.name,
        "private": repo.private,
        "gated": False,
        "disabled": False,
        "downloads": repo.downloads,
        "likes": repo.likes,
        "tags": [],
        "createdAt": hub_date(repo.created_at),
        "lastModified": hub_date(repo.updated_at),
        "forkedFrom": repo.forked_from.full_name if repo.forked_from else None,
    }
    if repo.repo_type == "model":
        summary["modelId"] = repo.full_name
    else:
        summary["description"] = repo.description
    return summary
