"""Commits made over the API: a tree built from file operations, pushed like any other push.

The Hub client's `create_commit` (and everything built on it: `upload_file`, `upload_folder`,
`delete_file`, every library's `push_to_hub`) sends operations, not objects. They become
blobs, trees and a commit here, written as one pack into the network's object store through
the same quarantine a `git push` uses (so the pack indexer checks every object), and the
branch moves through `apply_push`: the same rules, pre-receive policies, compare-and-swap,
push log and post-receive hooks (job triggers) as receive-pack. A commit over the API and a
push of the same tree end the same way.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from dulwich.objects import ZERO_SHA, Blob, Commit, ShaFile, Tree
from sqlalchemy import select

from repohub.auth.identity import Identity
from repohub.db.models import Account
from repohub.errors import (
    Conflict,
    EntryNotFound,
    PreconditionFailed,
    RevisionNotFound,
    Unprocessable,
)
from repohub.git.service import GitTarget, authorize, push_context
from repohub.git.updates import PushOutcome, apply_push, quarantine, require_moved
from repohub.objects.gitstore import NetworkObjectStore
from repohub.objects.lfs import POINTER_VERSION, check_oid
from repohub.refs.sqlrefs import RefUpdate, SqlRefsContainer
from repohub.repos import lfs as lfs_domain
from repohub.repos import patterns
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.paths import git_path
from repohub.repos.service import RepoKey, get_repo
from repohub.repos.xet import lfs as xet_lfs

FILE_MODE = 0o100644
EXEC_MODE = 0o100755
DIR_MODE = 0o040000
ATTRIBUTES = b".gitattributes"
ESCAPE = re.compile(r"\\x[0-9a-fA-F]{2}")  # the display rule's spelling of a non-UTF-8 byte
STALE_PARENT = "The branch was updated since you opened this page. Please refresh and try again."
MISSING_FILE = "A file with this name doesn't exist"
MAX_RETRIES = 5  # commits without a parent that lose the race are rebuilt on the new head


class InvalidPath(Unprocessable):
    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"invalid path {path[:200]!r}: {why}")


class _LostRace(Conflict):
    """Another commit moved the branch first: rebuild on the new head."""

    def __init__(self) -> None:
        super().__init__("the branch moved while committing")


@dataclass(frozen=True)
class AddFile:
    path: str
    data: bytes


@dataclass(frozen=True)
class AddLfsFile:
    path: str
    oid: str
    size: int | None  # None: a copy of an object the network holds; its size is looked up


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class DeleteFolder:
    path: str


Operation = AddFile | AddLfsFile | DeleteFile | DeleteFolder


@dataclass(frozen=True)
class CommitRequest:
    branch: str
    operations: list[Operation]
    summary: str
    description: str = ""
    parent: str | None = None  # 5-40 hex: the head the client built on


@dataclass(frozen=True)
class CommitResult:
    commit_id: str
    messages: list[str] = field(default_factory=list)


def split_path(path: str) -> list[bytes]:
    """A repo path's components as git stores them; `..`, `.git`, backslashes and empty
    components are refused before any object exists."""
    if not path or path.startswith("/") or path.endswith("/"):
        raise InvalidPath(path, "expected a relative path to a file, like dir/file.txt")
    if "\\" in ESCAPE.sub("", path) or "\x00" in path:
        raise InvalidPath(path, "backslashes and NUL bytes are not allowed")
    parts = [git_path(part) for part in path.split("/")]
    for part in parts:
        if part in (b"", b".", b"..") or part.lower() == b".git":
            raise InvalidPath(path, "empty, `.`, `..` and `.git` components are not allowed")
    return parts


def pointer_text(oid: str, size: int) -> bytes:
    return POINTER_VERSION + f"oid sha256:{oid}\nsize {size}\n".encode()


class _Dir:
    """A tree being edited: entries are (mode, sha) as stored, or a `_Dir` once opened."""

    def __init__(self, get: Callable[[bytes], ShaFile], sha: bytes | None) -> None:
        self.get = get
        self.sha = sha
        self.entries: dict[bytes, tuple[int, bytes] | _Dir] = {}
        self.dirty = sha is None
        if sha is not None:
            tree = get(sha)
            if not isinstance(tree, Tree):
                raise Unprocessable("the parent commit's tree is not a tree")
            self.entries = {e.path: (e.mode, e.sha) for e in tree.items()}

    def open(self, name: bytes, path: str, *, create: bool) -> _Dir | None:
        entry = self.entries.get(name)
        if isinstance(entry, _Dir):
            return entry
        if entry is None:
            if not create:
                return None
            child = _Dir(self.get, None)
        elif entry[0] == DIR_MODE:
            child = _Dir(self.get, entry[1])
        else:
            raise Conflict(f"cannot write below {path}: it is a file")
        self.entries[name] = child
        return child

    def write(self, objects: list[ShaFile]) -> bytes | None:
        """The tree's sha (new objects appended to `objects`); None when it became empty."""
        if not self.dirty and self.sha is not None:
            return self.sha
        tree = Tree()
        for name, entry in self.entries.items():
            if isinstance(entry, _Dir):
                sha = entry.write(objects)
                if sha is not None:
                    tree.add(name, DIR_MODE, sha)
            else:
                tree.add(name, entry[0], entry[1])
        if not tree.items():
            return None
        objects.append(tree)
        return tree.id


def _walk(root: _Dir, parts: list[bytes], path: str, *, create: bool) -> _Dir | None:
    here: _Dir | None = root
    for i, part in enumerate(parts[:-1]):
        assert here is not None
        here.dirty = True if create else here.dirty
        here = here.open(part, "/".join(path.split("/")[: i + 1]), create=create)
        if here is None:
            return None
    return here


def _apply(root: _Dir, op: Operation, blobs: list[ShaFile]) -> None:
    parts = split_path(op.path.rstrip("/") if isinstance(op, DeleteFolder) else op.path)
    name = parts[-1]
    if isinstance(op, AddFile | AddLfsFile):
        data = op.data if isinstance(op, AddFile) else pointer_text(op.oid, op.size or 0)
        blob = Blob.from_string(data)
        blobs.append(blob)
        parent = _walk(root, parts, op.path, create=True)
        assert parent is not None
        existing = parent.entries.get(name)
        if isinstance(existing, _Dir) or (existing is not None and existing[0] == DIR_MODE):
            raise Conflict(f"cannot write the file {op.path}: a folder has that name")
        mode = EXEC_MODE if existing is not None and existing[0] == EXEC_MODE else FILE_MODE
        parent.entries[name] = (mode, blob.id)
        parent.dirty = True
        return
    parent = _walk(root, parts, op.path, create=False)
    entry = parent.entries.get(name) if parent is not None else None
    is_dir = isinstance(entry, _Dir) or (entry is not None and entry[0] == DIR_MODE)
    if parent is None or entry is None or is_dir != isinstance(op, DeleteFolder):
        what = "folder" if isinstance(op, DeleteFolder) else "file"
        raise EntryNotFound(f"{MISSING_FILE}: no {what} {op.path}")
    _mark_dirty(root, parts)
    del parent.entries[name]


def _mark_dirty(root: _Dir, parts: list[bytes]) -> None:
    here: _Dir | tuple[int, bytes] | None = root
    for part in parts[:-1]:
        assert isinstance(here, _Dir)
        here.dirty = True
        here = here.entries.get(part)
    if isinstance(here, _Dir):
        here.dirty = True


def _attributes_text(root: _Dir, new: list[ShaFile]) -> str:
    """`.gitattributes` as this commit leaves it (it may itself be one of the new blobs)."""
    entry = root.entries.get(ATTRIBUTES)
    if entry is None or isinstance(entry, _Dir) or entry[0] == DIR_MODE:
        return ""
    blob = next((o for o in new if o.id == entry[1]), None) or root.get(entry[1])
    return blob.as_raw_string().decode("utf-8", "replace")


def _track_lfs_paths(root: _Dir, lfs_paths: list[str], blobs: list[ShaFile]) -> None:
    """Append a `.gitattributes` line for every LFS file no pattern covers, as the Hub does,
    so a `git clone` of the commit smudges those files too."""
    text = _attributes_text(root, blobs)
    rules = patterns.parse(text)
    missing = [p for p in lfs_paths if not patterns.is_lfs(rules, p)]
    if not missing:
        return
    if text and not text.endswith("\n"):
        text += "\n"
    text += "".join(patterns.track_line(p) for p in missing)
    _apply(root, AddFile(ATTRIBUTES.decode(), text.encode()), blobs)


def build_commit(
    store: NetworkObjectStore,
    head: bytes | None,
    request: CommitRequest,
    author: bytes,
) -> tuple[Commit, list[ShaFile]]:
    """The commit on top of `head` and every new object it needs."""
    tree_sha = None
    if head is not None:
        parent = store[head]
        if not isinstance(parent, Commit):
            raise Unprocessable("the branch does not point at a commit")
        tree_sha = parent.tree
    root = _Dir(store.__getitem__, tree_sha)
    objects: list[ShaFile] = []
    for op in request.operations:
        _apply(root, op, objects)
    lfs_paths = [op.path for op in request.operations if isinstance(op, AddLfsFile)]
    _track_lfs_paths(root, lfs_paths, objects)
    root.dirty = True
    new_tree = root.write(objects) or _empty_tree(objects)
    commit = Commit()
    commit.tree = new_tree
    commit.parents = [head] if head is not None else []
    commit.author = commit.committer = author
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    message = request.summary.strip() or "Update files"
    if request.description.strip():
        message += "\n\n" + request.description.strip()
    commit.message = (message + "\n").encode()
    objects.append(commit)
    return commit, objects


def _empty_tree(objects: list[ShaFile]) -> bytes:
    tree = Tree()
    objects.append(tree)
    return tree.id


def _with_lfs_sizes(hub: Hub, network_id: int, ops: list[Operation]) -> list[Operation]:
    """Every LFS file must name an object this network may read (proof of possession, as for
    a push) or one a Xet upload of this network holds; a copy without a size takes the
    stored one."""
    wanted = [check_oid(op.oid) for op in ops if isinstance(op, AddLfsFile)]
    if not wanted:
        return ops
    with hub.sessions() as session:
        sizes = lfs_domain.granted_sizes(session, network_id, wanted)
    checked: list[Operation] = []
    for op in ops:
        if isinstance(op, AddLfsFile):
            size = sizes.get(op.oid)
            if (
                size is None
                and op.size is not None
                and xet_lfs.claim(hub, network_id, op.oid, op.size)
            ):
                size = sizes[op.oid] = op.size  # a Xet upload, its bytes rebuilt and hashed
            if size is None:
                raise Unprocessable(
                    f"LFS object {op.oid} for {op.path} was never uploaded to this repository "
                    "(upload it through the LFS batch API first)"
                )
            if op.size is not None and op.size != size:
                raise Unprocessable(f"LFS object {op.oid} has {size} bytes, not {op.size}")
            op = AddLfsFile(op.path, op.oid, size)
        checked.append(op)
    return checked


def _author(hub: Hub, identity: Identity) -> bytes:
    with hub.sessions() as session:
        account = session.scalars(select(Account).where(Account.id == identity.user_id)).first()
        email = (account.email if account else None) or f"{identity.name}@users.noreply"
    return f"{identity.name} <{email}>".encode()


def branch_ref(branch: str) -> bytes:
    name = branch.removeprefix("refs/heads/")
    if branch.startswith("refs/") and not branch.startswith("refs/heads/"):
        raise Unprocessable(f"commits go to branches; {branch} is not one")
    return f"refs/heads/{name}".encode()


def commit(hub: Hub, identity: Identity, key: RepoKey, request: CommitRequest) -> CommitResult:
    """Make `request` the new head of its branch, or raise the error that says why not."""
    if not request.operations:
        raise Unprocessable("a commit needs at least one operation")
    for op in request.operations:
        split_path(op.path.rstrip("/") if isinstance(op, DeleteFolder) else op.path)
    target = authorize(hub, identity, key, "git-receive-pack")
    operations = _with_lfs_sizes(hub, target.network_id, request.operations)
    request = CommitRequest(
        request.branch, operations, request.summary, request.description, request.parent
    )
    ref = branch_ref(request.branch)
    store = hub.stores.get(target.network_id)
    refs = SqlRefsContainer(hub.sessions, target.repo_id, user_id=identity.user_id)
    author = _author(hub, identity)
    for _ in range(MAX_RETRIES):
        current = refs.as_dict()
        head = current.get(ref)
        if head is None and any(name.startswith(b"refs/heads/") for name in current):
            raise RevisionNotFound(f"Invalid rev id: {request.branch}")
        if request.parent and not _same(head, request.parent):
            raise PreconditionFailed(STALE_PARENT)
        new, objects = build_commit(store, head, request, author)
        update = RefUpdate(ref, head or ZERO_SHA, new.id)
        outcome = _push(hub, identity, target, store, refs, update, objects)
        lost = PreconditionFailed(STALE_PARENT) if request.parent else _LostRace()
        try:
            require_moved(outcome, ref, lost=lost)
        except _LostRace:
            continue
        return CommitResult(new.id.decode(), outcome.messages)
    raise Conflict("the branch kept moving while committing; try again")


def _same(head: bytes | None, parent: str) -> bool:
    return head is not None and len(parent) >= 5 and head.decode().startswith(parent.lower())


def _push(
    hub: Hub,
    identity: Identity,
    target: GitTarget,
    store: NetworkObjectStore,
    refs: SqlRefsContainer,
    update: RefUpdate,
    objects: list[ShaFile],
) -> PushOutcome:
    incoming = quarantine(hub.settings.max_pack_bytes, store, objects)
    try:
        push = push_context(hub, identity, target, store, refs)
        return apply_push(push, [update], incoming, atomic=True)
    finally:
        incoming.discard()


def super_squash(hub: Hub, identity: Identity, key: RepoKey, branch: str, message: str) -> str:
    """Replace a branch's history by one commit holding its current tree (the Hub's
    `super_squash_history`). It rewrites history, so it takes admin rights, and for that one
    update the protected default branch accepts a non-fast-forward move."""
    with hub.sessions() as session:
        get_repo(session, identity, key, Access.ADMIN)
    target = authorize(hub, identity, key, "git-receive-pack")
    ref = branch_ref(branch)
    store = hub.stores.get(target.network_id)
    refs = SqlRefsContainer(hub.sessions, target.repo_id, user_id=identity.user_id)
    head = refs.as_dict().get(ref)
    if head is None:
        raise RevisionNotFound(f"Invalid rev id: {branch}")
    tip = store[head]
    if not isinstance(tip, Commit):
        raise Unprocessable("the branch does not point at a commit")
    squashed = Commit()
    squashed.tree = tip.tree
    squashed.author = squashed.committer = _author(hub, identity)
    squashed.author_time = squashed.commit_time = int(time.time())
    squashed.author_timezone = squashed.commit_timezone = 0
    squashed.message = (message.strip() or f"Super-squash branch '{branch}'").encode() + b"\n"
    incoming = quarantine(hub.settings.max_pack_bytes, store, [squashed])
    try:
        push = push_context(hub, identity, target, store, refs)
        push = replace(push, rules=replace(push.rules, protect_default_branch=False))
        outcome = apply_push(push, [RefUpdate(ref, head, squashed.id)], incoming, atomic=True)
    finally:
        incoming.discard()
    require_moved(outcome, ref, lost=PreconditionFailed(STALE_PARENT))
    return squashed.id.decode()
