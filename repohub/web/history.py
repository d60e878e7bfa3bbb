"""History pages' data: a paged commit log, one commit's diff, branch and tag lists.

Read-only views over git objects for repos the caller already passed the access check on.
A commit never changes, so its diff is computed once per process and cached by its id.
Diffs of LFS pointers compare the objects they name (size and sha256), not pointer text;
binary files compare sizes and blob ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import islice

from dulwich.diff_tree import tree_changes
from dulwich.objects import TreeEntry
from dulwich.walk import ORDER_DATE, Walker

from repohub.auth.identity import Identity
from repohub.errors import RevisionNotFound
from repohub.repos import files, textdiff
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.info import list_refs
from repohub.repos.paths import commit_text, shown_path
from repohub.repos.reading import HEX_RE, Entry, resolve_revision
from repohub.repos.service import RepoKey, get_repo
from repohub.web.browse import CommitInfo, Header, build_header, commit_info, with_store
from repohub.web.cache import Caches

PER_PAGE = 30
MAX_DIFF_BYTES = 512 * 1024
MAX_FILE_LINES = 3000
MAX_TOTAL_LINES = 20000


@dataclass(frozen=True)
class LogPage:
    header: Header
    rev: str
    commits: list[CommitInfo]
    page: int
    has_next: bool


def commit_log(hub: Hub, identity: Identity, key: RepoKey, rev: str, page: int) -> LogPage:
    """Commits reachable from `rev`, newest first, PER_PAGE at a time."""
    page = max(1, page)
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.READ)
        header = build_header(session, identity, repo)

        def read(store):  # type: ignore[no-untyped-def]
            start = resolve_revision(session, store, repo, rev)
            walker = Walker(store, [start], order=ORDER_DATE)
            skip = (page - 1) * PER_PAGE
            chunk = [commit_info(e.commit) for e in islice(walker, skip, skip + PER_PAGE + 1)]
            return LogPage(header, rev, chunk[:PER_PAGE], page, len(chunk) > PER_PAGE)

        return with_store(hub, repo.network_id, read)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # " " context, "+" added, "-" removed, "@" hunk header
    old: int | None
    new: int | None
    text: str


@dataclass(frozen=True)
class FileDiff:
    path: str
    old_path: str | None
    change: str  # add | delete | modify | rename
    kind: str  # text | binary | lfs | too-large
    old_size: int | None = None
    new_size: int | None = None
    old_id: str | None = None  # blob id, or sha256 for LFS
    new_id: str | None = None
    lines: list[DiffLine] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    truncated: bool = False


@dataclass(frozen=True)
class CommitDiff:
    commit: CommitInfo
    message: str
    parents: list[str]
    files: list[FileDiff]
    truncated: bool


@dataclass(frozen=True)
class CommitPage:
    header: Header
    diff: CommitDiff


def _hunks(old: list[str], new: list[str], budget: int) -> tuple[list[DiffLine], int, int, bool]:
    """The diff's lines, with the counts of added and removed lines the page shows."""
    found, cut = textdiff.hunks(old, new, budget)
    lines = [DiffLine(d["kind"], d["old"], d["new"], d["text"]) for d in found]
    added = sum(1 for line in found if line["kind"] == "+")
    removed = sum(1 for line in found if line["kind"] == "-")
    return lines, added, removed, cut


NO_SIDE = TreeEntry(None, None, None)  # dulwich leaves the missing side of an add/delete None


def _file_diff(store, change, budget: int) -> FileDiff:  # type: ignore[no-untyped-def]
    old, new = change.old or NO_SIDE, change.new or NO_SIDE
    path = shown_path(new.path or old.path)
    old_path = shown_path(old.path) if old.path else None
    kind = {"add": "add", "delete": "delete", "rename": "rename"}.get(change.type, "modify")
    sides = []
    for side in (old, new):
        if side.sha is None:
            sides.append((None, b""))
            continue
        item = files.describe(store, Entry(shown_path(side.path), side.mode, side.sha))
        sides.append((item, store[side.sha].as_raw_string() if item.lfs is None else b""))
    (old_item, old_data), (new_item, new_data) = sides
    base = FileDiff(
        path,
        old_path if kind == "rename" else None,
        kind,
        "binary",
        old_item.size if old_item else None,
        new_item.size if new_item else None,
        (old_item.lfs.oid if old_item.lfs else old_item.oid) if old_item else None,
        (new_item.lfs.oid if new_item.lfs else new_item.oid) if new_item else None,
    )
    if (old_item and old_item.lfs) or (new_item and new_item.lfs):
        return replace(base, kind="lfs")
    if max(len(old_data), len(new_data)) > MAX_DIFF_BYTES:
        return replace(base, kind="too-large")
    old_lines, new_lines = textdiff.text_lines(old_data), textdiff.text_lines(new_data)
    if old_lines is None or new_lines is None:
        return base
    lines, added, removed, cut = _hunks(old_lines, new_lines, min(budget, MAX_FILE_LINES))
    return replace(
        base,
        kind="text",
        lines=lines,
        added=added,
        removed=removed,
        truncated=cut,
    )


def _commit_diff(store, sha: bytes) -> CommitDiff:  # type: ignore[no-untyped-def]
    commit = store[sha]
    parent_tree = store[commit.parents[0]].tree if commit.parents else None
    diffs: list[FileDiff] = []
    budget = MAX_TOTAL_LINES
    truncated = False
    for change in tree_changes(store, parent_tree, commit.tree, rename_detector=None):
        if budget <= 0:
            truncated = True
            break
        diff = _file_diff(store, change, budget)
        budget -= len(diff.lines)
        diffs.append(diff)
    message = commit_text(commit.message, commit.encoding)
    parents = [p.decode() for p in commit.parents]
    return CommitDiff(commit_info(commit), message, parents, diffs, truncated)


def commit_page(hub: Hub, caches: Caches, identity: Identity, key: RepoKey, sha: str) -> CommitPage:
    if not HEX_RE.fullmatch(sha):
        raise RevisionNotFound(f"Invalid commit id: {sha}")
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.READ)
        header = build_header(session, identity, repo)

        def read(store):  # type: ignore[no-untyped-def]
            commit_id = resolve_revision(session, store, repo, sha)
            return caches.fragments.get(("diff", commit_id), lambda: _commit_diff(store, commit_id))

        return CommitPage(header, with_store(hub, repo.network_id, read))


@dataclass(frozen=True)
class RefRow:
    name: str
    commit: CommitInfo


@dataclass(frozen=True)
class RefsPage:
    header: Header
    branches: list[RefRow]
    tags: list[RefRow]


def refs_page(hub: Hub, identity: Identity, key: RepoKey) -> RefsPage:
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.READ)
        header = build_header(session, identity, repo)
        listing = list_refs(hub, session, repo)

        def read(store):  # type: ignore[no-untyped-def]
            def rows(pairs: list[tuple[str, str]], cut: int) -> list[RefRow]:
                found = [RefRow(n[cut:], commit_info(store[t.encode()])) for n, t in pairs]
                return sorted(found, key=lambda r: r.commit.date, reverse=True)

            return RefsPage(header, rows(listing.branches, 11), rows(listing.tags, 10))

        return with_store(hub, repo.network_id, read)
