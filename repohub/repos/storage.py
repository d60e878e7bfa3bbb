"""Storage accounting: what a repo references, what its network holds, what the hub stores.

Forks share their network's packs and LFS grants, so a fork adds no stored byte; these
figures let a user see that, and see what a new version of the weights really added. Xet
files are counted twice over: by their sizes (what a download reads) and by their distinct
chunks (what storage holds), and the gap is what dedup saved.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from repohub.auth.identity import Identity
from repohub.db.models import Repo
from repohub.errors import PermissionDenied
from repohub.objects.gitstore import NetworkObjectStore
from repohub.objects.lfs import parse_pointer
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.lfs import (
    granted_objects,
    hub_stored_bytes,
    network_stored_bytes,
    plain_stored_bytes,
)
from repohub.repos.reading import peel, repo_refs, tree_at, walk
from repohub.repos.service import RepoKey, get_repo
from repohub.repos.xet.accounting import (
    ChunkUsage,
    HubChunks,
    chunk_usage,
    hub_chunks,
    network_files,
)


@dataclass(frozen=True)
class Usage:
    objects: int
    bytes: int


@dataclass(frozen=True)
class RepoStorage:
    referenced_lfs: Usage  # distinct LFS objects reachable from the tips of its refs
    network_lfs: Usage  # LFS objects its fork network may read (stored once, shared)
    network_git_bytes: int  # packs of its fork network
    referenced_xet: ChunkUsage  # the referenced LFS objects that are Xet files, by chunk
    network_xet: ChunkUsage  # Xet files its network uploaded or committed, by chunk
    network_plain_bytes: int  # its LFS objects kept as plain blobs

    @property
    def network_stored_bytes(self) -> int:
        """What the network's large files take: plain objects whole, Xet files by chunk."""
        return self.network_plain_bytes + self.network_xet.chunk_bytes


@dataclass(frozen=True)
class HubStorage:
    lfs: Usage  # every LFS object once, at its size
    plain_lfs_bytes: int  # those kept as plain blobs
    git_bytes: int
    xet: HubChunks

    @property
    def stored_bytes(self) -> int:
        """What blob storage holds: plain objects, xorbs (compressed) and packs."""
        return self.plain_lfs_bytes + self.xet.stored_bytes + self.git_bytes


def repo_storage(hub: Hub, identity: Identity, key: RepoKey) -> RepoStorage:
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.READ)
        store = hub.stores.get(repo.network_id)
        pointers = _referenced_pointers(session, store, repo)
        found = granted_objects(session, repo.network_id, pointers)
        granted = {oid: g.size for oid, g in found.items()}
        network = Usage(*network_stored_bytes(session, repo.network_id))
        _, plain = network_stored_bytes(session, repo.network_id, plain_only=True)
        network_id = repo.network_id
        xet_files = [g.xet_hash for g in found.values() if g.xet_hash is not None]
        referenced_xet = chunk_usage(session, xet_files)
        network_xet = chunk_usage(session, network_files(session, network_id))
    git_bytes = sum(b.size for b in hub.blobs.list(f"git/{network_id}/"))
    referenced = Usage(len(granted), sum(granted.values()))
    return RepoStorage(referenced, network, git_bytes, referenced_xet, network_xet, plain)


def _referenced_pointers(session: Session, store: NetworkObjectStore, repo: Repo) -> set[str]:
    """LFS oids named by pointer files in the trees at the repo's ref tips.

    Non-LFS blobs are small by policy (large ones are refused at push), so reading each
    blob once to recognise pointers is affordable; each tree is walked once.
    """
    oids: set[str] = set()
    seen_trees: set[bytes] = set()
    seen_blobs: set[bytes] = set()
    for target in set(repo_refs(session, repo).values()):
        root = tree_at(store, peel(store, target.encode()))
        if root.id in seen_trees:
            continue
        seen_trees.add(root.id)
        for entry in walk(store, root):
            if entry.is_dir or entry.is_submodule or entry.sha in seen_blobs:
                continue
            seen_blobs.add(entry.sha)
            pointer = parse_pointer(store.get_raw(entry.sha)[1])
            if pointer:
                oids.add(pointer.oid)
    return oids


def hub_storage(hub: Hub, identity: Identity) -> HubStorage:
    if not identity.is_admin:
        raise PermissionDenied("hub-wide storage figures are for site administrators")
    with hub.sessions() as session:
        lfs = Usage(*hub_stored_bytes(session))
        plain = plain_stored_bytes(session)
        xet = hub_chunks(session)
    return HubStorage(lfs, plain, sum(b.size for b in hub.blobs.list("git/")), xet)
