"""Cross-repo copies of large files (`lfs-files/duplicate`, what 2.4.0's `create_commit` calls
before committing a `CommitOperationCopy` from another repo).

Copying grants the target's fork network the objects the source's network may read; no byte
moves. The caller must be able to read the source and write the target (the one access
check, both ways), so a copy never shows anyone what they could not already download, and a
later `lfsFile` line in the target's commit then passes the usual proof of possession.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from repohub.auth.identity import Identity
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.lfs import grant, granted_objects
from repohub.repos.service import RepoKey, get_repo
from repohub.repos.xet import index


@dataclass(frozen=True)
class CopyRequest:
    sha256: str
    xet_hash: str | None


@dataclass(frozen=True)
class CopyFailure:
    sha256: str
    error: str


def duplicate(
    hub: Hub, identity: Identity, source: RepoKey, target: RepoKey, files: Sequence[CopyRequest]
) -> list[CopyFailure]:
    """Grant what can be granted, all in one transaction; the rest come back with why."""
    with hub.sessions.begin() as session:
        src = get_repo(session, identity, source, Access.READ)
        dst = get_repo(session, identity, target, Access.WRITE)
        granted = granted_objects(session, src.network_id, (f.sha256 for f in files))
        failed: list[CopyFailure] = []
        for f in files:
            if f.sha256 not in granted:
                failed.append(CopyFailure(f.sha256, f"{src.full_name} has no such LFS file"))
            elif f.xet_hash is not None and granted[f.sha256].xet_hash != f.xet_hash:
                failed.append(
                    CopyFailure(f.sha256, f"its Xet hash in {src.full_name} is not {f.xet_hash}")
                )
        if failed or dst.network_id == src.network_id:
            return failed
        for f in files:
            found = granted[f.sha256]
            if found.xet_hash is not None:
                index.link_lfs(session, dst.network_id, f.sha256, found.size, found.xet_hash)
            else:
                grant(session, dst.network_id, f.sha256)
    return []
