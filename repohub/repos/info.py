"""What a repo page or the Hub's repo-info call shows: the revision's commit and its files."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from repohub.db.models import Repo
from repohub.repos.context import Hub
from repohub.repos.reading import Entry, list_files, peel, repo_refs, resolve_revision


@dataclass(frozen=True)
class Snapshot:
    sha: str | None
    files: list[Entry]


def snapshot(hub: Hub, session: Session, repo: Repo, revision: str | None) -> Snapshot:
    """The files at `revision` (default branch if None); an empty repo has no commit."""
    if revision is None and not repo_refs(session, repo):
        return Snapshot(None, [])
    store = hub.stores.get(repo.network_id)
    commit = resolve_revision(session, store, repo, revision)
    return Snapshot(commit.decode(), list_files(store, commit))


@dataclass(frozen=True)
class RefListing:
    branches: list[tuple[str, str]]
    tags: list[tuple[str, str]]
    converts: list[tuple[str, str]]
    pulls: list[tuple[str, str]]


def list_refs(hub: Hub, session: Session, repo: Repo) -> RefListing:
    """Refs grouped as the Hub lists them; tags point at their peeled commit."""
    store = hub.stores.get(repo.network_id, refresh=False)
    groups: dict[str, list[tuple[str, str]]] = {
        "refs/heads/": [],
        "refs/tags/": [],
        "refs/convert/": [],
        "refs/pr/": [],
    }
    for name, target in sorted(repo_refs(session, repo).items()):
        for prefix, items in groups.items():
            if name.startswith(prefix):
                if prefix == "refs/tags/":
                    target = peel(store, target.encode()).decode()
                items.append((name, target))
    return RefListing(*groups.values())
