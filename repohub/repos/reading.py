"""Reading a repo at a revision: resolve names to commits, walk trees, list files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from dulwich.objects import Commit, Tag, Tree
from sqlalchemy import select
from sqlalchemy.orm import Session

from repohub.db.models import Ref, Repo
from repohub.errors import EntryNotFound, RevisionNotFound
from repohub.objects.gitstore import NetworkObjectStore
from repohub.repos.paths import git_path, shown_path

HEX_RE = re.compile(r"^[0-9a-f]{7,40}$")


def repo_refs(session: Session, repo: Repo) -> dict[str, str]:
    rows = session.execute(select(Ref.name, Ref.target).where(Ref.repo_id == repo.id))
    return {name: target for name, target in rows}


def peel(store: NetworkObjectStore, sha: bytes) -> bytes:
    obj = store[sha]
    while isinstance(obj, Tag):
        obj = store[obj.object[1]]
    if not isinstance(obj, Commit):
        raise RevisionNotFound(f"Invalid rev id: {sha.decode()} is not a commit")
    return obj.id


def resolve_revision(
    session: Session, store: NetworkObjectStore, repo: Repo, revision: str | None
) -> bytes:
    """A branch, tag, full ref, full sha or unambiguous sha prefix, as a commit id."""
    revision = revision or repo.default_branch
    refs = repo_refs(session, repo)
    for candidate in (revision, f"refs/heads/{revision}", f"refs/tags/{revision}"):
        if candidate in refs:
            return peel(store, refs[candidate].encode())
    if HEX_RE.fullmatch(revision):
        sha = _expand_sha(store, refs, revision)
        if sha is not None:
            return peel(store, sha)
    raise RevisionNotFound(f"Invalid rev id: {revision}")


def _expand_sha(store: NetworkObjectStore, refs: dict[str, str], prefix: str) -> bytes | None:
    """A full sha, or an unambiguous prefix of at least 7 hex digits, as the Hub accepts.

    Ref tips win over other objects with the same prefix. The network's store is shared by a
    repo and its forks, which have the repo's visibility, so a sha resolves across them as on
    GitHub.
    """
    if len(prefix) == 40:
        return prefix.encode() if prefix.encode() in store else None
    tips = {t for t in refs.values() if t.startswith(prefix)}
    if len(tips) == 1:
        return tips.pop().encode()
    matches = set()
    for sha in store.iter_prefix(prefix.encode()):
        matches.add(sha)
        if len(matches) > 1:
            raise RevisionNotFound(f"Invalid rev id: {prefix} is ambiguous")
    return matches.pop() if matches else None


@dataclass(frozen=True)
class Entry:
    """A tree entry; `path` is shown text (`repohub.repos.paths`), which names the same bytes."""

    path: str
    mode: int
    sha: bytes

    @property
    def is_dir(self) -> bool:
        return self.mode & 0o170000 == 0o040000

    @property
    def is_submodule(self) -> bool:
        return self.mode & 0o170000 == 0o160000


def tree_at(store: NetworkObjectStore, commit_id: bytes, path: str = "") -> Tree:
    """The tree at a shown `path` (`caf\\xe9` names the byte 0xE9, as listings show it)."""
    tree = store[store[commit_id].tree]
    for part in [p for p in path.split("/") if p]:
        try:
            mode, sha = tree[git_path(part)]
        except KeyError as exc:
            raise EntryNotFound(f"{path} does not exist at this revision") from exc
        if mode & 0o170000 != 0o040000:
            raise EntryNotFound(f"{path} is not a directory")
        tree = store[sha]
    return tree


def walk(
    store: NetworkObjectStore, tree: Tree, prefix: str = "", *, recursive: bool = True
) -> Iterator[Entry]:
    for item in tree.iteritems():
        path = f"{prefix}{shown_path(item.path)}"
        entry = Entry(path, item.mode, item.sha)
        yield entry
        if recursive and entry.is_dir:
            yield from walk(store, store[item.sha], path + "/")


def list_files(store: NetworkObjectStore, commit_id: bytes) -> list[Entry]:
    return [e for e in walk(store, tree_at(store, commit_id)) if not e.is_dir]
