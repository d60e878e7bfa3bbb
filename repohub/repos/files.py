"""Files at a revision: what a path names (a git blob or an LFS object) and how to read it.

`/resolve`, `/raw`, the tree API, paths-info and repo info's `siblings` all describe files
through this module, so they agree on sizes, ids and which LFS objects are readable. An LFS
pointer in git grants nothing: its bytes are served only if the repo's fork network holds a
grant for the oid (it uploaded them, or forked a network that did).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import BinaryIO, Literal

from dulwich.objects import Blob, Commit, ShaFile, Tree
from sqlalchemy.orm import Session

from repohub.db.models import Repo
from repohub.errors import EntryNotFound
from repohub.objects.gitstore import NetworkObjectStore
from repohub.objects.lfs import Pointer, parse_pointer
from repohub.repos.context import Hub
from repohub.repos.lfs import GrantedObject, granted_objects
from repohub.repos.paths import canonical_path, commit_text, git_path
from repohub.repos.reading import Entry, resolve_revision, tree_at, walk
from repohub.repos.xet import index as xet_index

DIR_MODE = 0o040000
TYPE_MASK = 0o170000
SUBMODULE_MODE = 0o160000
MAX_HISTORY_DEPTH = 5000


class MissingEntry(EntryNotFound):
    """A path missing at a known commit. The Hub client caches non-existence per commit, so
    `/resolve` must say which commit it looked at (`X-Repo-Commit`)."""

    def __init__(self, message: str, commit_id: str) -> None:
        super().__init__(message)
        self.commit_id = commit_id


@dataclass(frozen=True)
class FileEntry:
    """A file at a commit: its git blob and, for an LFS pointer, the object it names."""

    network_id: int
    commit_id: str
    path: str
    blob_id: str
    blob_size: int
    lfs: Pointer | None = None
    xet_hash: str | None = None  # the LFS object is also a Xet file: clients may fetch chunks

    @property
    def size(self) -> int:
        """The content's size: the LFS object's, not the pointer's."""
        return self.lfs.size if self.lfs else self.blob_size

    @property
    def etag(self) -> str:
        """A pure function of the content, as the client's cache needs: sha256 or blob sha1."""
        return self.lfs.oid if self.lfs else self.blob_id


@dataclass(frozen=True)
class TreeItem:
    """One entry of a tree listing; `size` is the content size (LFS: the object's)."""

    path: str
    kind: Literal["file", "directory"]
    oid: str
    size: int = 0
    lfs: Pointer | None = None
    pointer_size: int = 0


@dataclass(frozen=True)
class Listing:
    commit_id: str
    items: list[TreeItem]


@dataclass(frozen=True)
class CommitSummary:
    id: str
    title: str
    date: datetime


def clean_path(path: str) -> str:
    """`a//b/` and `/a/b` name `a/b`; the root is the empty string. Escapes are made
    canonical (`repohub.repos.paths`), so answers echo a path as listings show it."""
    return "/".join(canonical_path(part) for part in path.split("/") if part)


def read_entry(
    hub: Hub, session: Session, repo: Repo, revision: str | None, path: str, *, lfs: bool = True
) -> FileEntry:
    """The file at `path`; with `lfs=False` a pointer is served as the git blob it is.

    Raises RevisionNotFound for a bad revision and MissingEntry for a missing path, a
    directory, or a pointer whose object this repo's network may not read.
    """
    store = hub.stores.get(repo.network_id)
    commit_id = resolve_revision(session, store, repo, revision).decode()
    path = clean_path(path)
    found = _lookup(store, commit_id.encode(), path) if path else None
    if found is None or found[0] & TYPE_MASK in (DIR_MODE, SUBMODULE_MODE):
        raise MissingEntry(
            f"Entry not found: {path or '/'} is not a file at {commit_id}", commit_id
        )
    blob = store[found[1]]
    assert isinstance(blob, Blob)
    data = blob.as_raw_string()
    entry = FileEntry(repo.network_id, commit_id, path, blob.id.decode(), len(data))
    pointer = parse_pointer(data) if lfs else None
    if pointer is None:
        return entry
    granted = _require_grant(session, entry, pointer)
    return replace(entry, lfs=pointer, xet_hash=granted.xet_hash)


def _require_grant(session: Session, entry: FileEntry, pointer: Pointer) -> GrantedObject:
    """A pointer only serves bytes its network proved it has: otherwise anyone could push a
    pointer to an oid they merely know and read someone else's private weights."""
    granted = granted_objects(session, entry.network_id, [pointer.oid]).get(pointer.oid)
    if granted is None:
        raise MissingEntry(
            f"LFS object {pointer.oid} of {entry.path} has not been uploaded to this repository",
            entry.commit_id,
        )
    if granted.size != pointer.size:
        raise MissingEntry(
            f"{entry.path} is an LFS pointer of {pointer.size} bytes but object {pointer.oid} "
            f"has {granted.size}",
            entry.commit_id,
        )
    return granted


def open_bytes(hub: Hub, entry: FileEntry, *, start: int = 0, end: int | None = None) -> BinaryIO:
    """A stream of the content's bytes [start, end); opened now, so a missing object fails
    before an answer starts. Regular blobs are small (pushes cap them) and read in memory."""
    if entry.lfs is not None:
        return hub.lfs.open(entry.lfs.oid, start=start, end=end)
    blob = hub.stores.get(entry.network_id, refresh=False)[entry.blob_id.encode()]
    data = blob.as_raw_string()
    return io.BytesIO(data if start == 0 and end is None else data[start:end])


def download_url(hub: Hub, entry: FileEntry) -> str | None:
    """A presigned URL of the LFS object (S3), or None when RepoHub must stream it itself."""
    if entry.lfs is None:
        return None
    return hub.lfs.download_url(entry.lfs.oid, expires_in=hub.settings.lfs_url_ttl)


def tree_listing(
    hub: Hub,
    session: Session,
    repo: Repo,
    revision: str | None,
    path: str = "",
    *,
    recursive: bool = False,
) -> Listing:
    """Children of the directory `path` (all descendants, directories included, if
    `recursive`), with paths from the repo root, in git's tree order."""
    store = hub.stores.get(repo.network_id)
    commit_id = resolve_revision(session, store, repo, revision).decode()
    path = clean_path(path)
    try:
        tree = tree_at(store, commit_id.encode(), path)
    except EntryNotFound as exc:
        raise MissingEntry(exc.message, commit_id) from exc
    prefix = f"{path}/" if path else ""
    entries = walk(store, tree, prefix, recursive=recursive)
    return Listing(commit_id, [describe(store, e) for e in entries if not e.is_submodule])


def paths_info(
    hub: Hub, session: Session, repo: Repo, revision: str | None, paths: Iterable[str]
) -> Listing:
    """Tree items for those of `paths` that exist (files or directories); others are left out."""
    store = hub.stores.get(repo.network_id)
    commit_id = resolve_revision(session, store, repo, revision).decode()
    items = []
    for path in dict.fromkeys(clean_path(p) for p in paths):
        found = _lookup(store, commit_id.encode(), path) if path else None
        if found is not None and found[0] & TYPE_MASK != SUBMODULE_MODE:
            items.append(describe(store, Entry(path, *found)))
    return Listing(commit_id, items)


def xet_hashes(session: Session, repo: Repo, items: Iterable[TreeItem]) -> dict[str, str]:
    """oid -> Xet file hash for the LFS items of a listing that the Xet client may fetch."""
    oids = [item.lfs.oid for item in items if item.lfs is not None]
    return xet_index.xet_hashes(session, repo.network_id, oids) if oids else {}


def describe_files(hub: Hub, repo: Repo, entries: Iterable[Entry]) -> list[TreeItem]:
    """Sizes, blob ids and LFS details of already-listed files (repo info's `siblings`)."""
    store = hub.stores.get(repo.network_id, refresh=False)
    return [describe(store, e) for e in entries if not e.is_dir and not e.is_submodule]


def describe(store: NetworkObjectStore, entry: Entry) -> TreeItem:
    """A tree item; a file's blob is read to learn its size and whether it is a pointer."""
    if entry.is_dir:
        return TreeItem(entry.path, "directory", entry.sha.decode())
    data = store[entry.sha].as_raw_string()
    pointer = parse_pointer(data)
    if pointer is None:
        return TreeItem(entry.path, "file", entry.sha.decode(), len(data))
    return TreeItem(entry.path, "file", entry.sha.decode(), pointer.size, pointer, len(data))


def _lookup(store: NetworkObjectStore, commit_id: bytes, path: str) -> tuple[int, bytes] | None:
    """(mode, sha) of `path` at a commit, or None if it is not there."""
    commit = store[commit_id]
    assert isinstance(commit, Commit)
    return _lookup_in(store.__getitem__, commit.tree, path)


def _lookup_in(
    get_tree: Callable[[bytes], ShaFile], tree_id: bytes, path: str
) -> tuple[int, bytes] | None:
    """Walk `path` down from a tree; `get_tree` lets history walks reuse parsed trees."""
    mode, sha = DIR_MODE, tree_id
    for part in path.split("/"):
        if mode & TYPE_MASK != DIR_MODE:
            return None
        tree = get_tree(sha)
        assert isinstance(tree, Tree)
        try:
            mode, sha = tree[git_path(part)]
        except KeyError:
            return None
    return mode, sha


def last_commits(
    hub: Hub, repo: Repo, commit_id: str, paths: Iterable[str]
) -> dict[str, CommitSummary]:
    """The commit that last changed each path, as `git log -1 -- path` finds it.

    From the revision, follow a parent in which the path's object is unchanged (git's
    history simplification: the first such parent); the first commit where it differs from
    every parent (or a root commit) changed it. Paths deeper than MAX_HISTORY_DEPTH commits
    are left out rather than guessed.
    """
    history = _History(hub.stores.get(repo.network_id, refresh=False))
    found = {}
    for path in paths:
        commit = history.last_change(commit_id.encode(), path)
        if commit is not None:
            found[path] = summarize(commit)
    return found


def summarize(commit: Commit) -> CommitSummary:
    title = commit_text(commit.message, commit.encoding).strip().split("\n", 1)[0]
    return CommitSummary(commit.id.decode(), title, datetime.fromtimestamp(commit.commit_time, UTC))


class _History:
    """Commits and trees read once per request, shared by the paths of one listing."""

    def __init__(self, store: NetworkObjectStore) -> None:
        self.store = store
        self._commits: dict[bytes, Commit] = {}
        self._trees: dict[bytes, Tree] = {}

    def commit(self, sha: bytes) -> Commit:
        if sha not in self._commits:
            commit = self.store[sha]
            assert isinstance(commit, Commit)
            self._commits[sha] = commit
        return self._commits[sha]

    def tree(self, sha: bytes) -> Tree:
        if sha not in self._trees:
            tree = self.store[sha]
            assert isinstance(tree, Tree)
            self._trees[sha] = tree
        return self._trees[sha]

    def object_at(self, commit_id: bytes, path: str) -> bytes | None:
        try:
            found = _lookup_in(self.tree, self.commit(commit_id).tree, path)
        except KeyError:  # a shallow boundary: the parent's objects are not here
            return None
        return found[1] if found else None

    def last_change(self, start: bytes, path: str) -> Commit | None:
        target = self.object_at(start, path)
        current = self.commit(start)
        for _ in range(MAX_HISTORY_DEPTH):
            same = next((p for p in current.parents if self._unchanged(p, path, target)), None)
            if same is None:
                return current
            current = self.commit(same)
        return None

    def _unchanged(self, parent: bytes, path: str, target: bytes | None) -> bool:
        return self.object_at(parent, path) == target
