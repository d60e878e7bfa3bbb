"""Changed files between two commits: text hunks, LFS objects, binaries, safetensors headers.

Text lines come from `repohub.repos.textdiff`, as on the commit page, so one template
renders both. LFS pointers compare the objects they name
(size and sha256), never pointer text; a `.safetensors` side is described from its header
only, and only when the fork network may read the object (a pointer grants nothing).
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from dulwich.diff_tree import TreeChange, tree_changes
from dulwich.objects import Blob, Commit
from sqlalchemy.orm import Session

from repohub.compare.tensors import Tensors, diff_tensors, read_tensors
from repohub.errors import RepoHubError
from repohub.objects.gitstore import NetworkObjectStore
from repohub.objects.lfs import Pointer, parse_pointer
from repohub.repos.context import Hub
from repohub.repos.lfs import granted_sizes
from repohub.repos.paths import shown_path
from repohub.repos.textdiff import hunks, text_lines

MAX_FILES = 3000
MAX_DIFF_BYTES = 512 * 1024
MAX_FILE_LINES = 3000
MAX_TOTAL_LINES = 20000
STATUS = {"add": "added", "delete": "removed", "rename": "renamed"}


class _Side:
    """One side of a change: the blob, and the LFS object it names if it is a pointer."""

    def __init__(self, store: NetworkObjectStore, path: bytes | None, sha: bytes | None) -> None:
        self.path = shown_path(path) if path else None
        self.data = b""
        self.pointer: Pointer | None = None
        self.sha = sha
        if sha is not None:
            blob = store[sha]
            assert isinstance(blob, Blob)
            self.data = blob.as_raw_string()
            self.pointer = parse_pointer(self.data)

    def as_json(self) -> dict[str, Any] | None:
        if self.sha is None:
            return None
        if self.pointer is not None:
            return {"size": self.pointer.size, "oid": self.sha.decode(), "sha256": self.pointer.oid}
        return {"size": len(self.data), "oid": self.sha.decode(), "sha256": None}


def _entry(entry: Any) -> tuple[bytes | None, bytes | None]:
    """(path, sha) of a side of a tree change; an added or deleted file lacks one side."""
    return (entry.path, entry.sha) if entry is not None else (None, None)


def changed_files(
    hub: Hub, session: Session, store: NetworkObjectStore, network_id: int, base: str, head: str
) -> dict[str, Any]:
    old_commit, new_commit = store[base.encode()], store[head.encode()]
    assert isinstance(old_commit, Commit) and isinstance(new_commit, Commit)
    changes = tree_changes(store, old_commit.tree, new_commit.tree, rename_detector=None)
    rows: list[tuple[dict[str, Any], _Side, _Side]] = []
    budget, truncated = MAX_TOTAL_LINES, False
    for change in changes:
        if len(rows) >= MAX_FILES:
            truncated = True
            break
        row, old, new = _change(store, change, budget)
        budget -= len(row["hunks"])
        rows.append((row, old, new))
    _add_tensor_diffs(hub, session, network_id, rows)
    return {"truncated": truncated, "changed": [row for row, _, _ in rows]}


def _change(
    store: NetworkObjectStore, change: TreeChange, budget: int
) -> tuple[dict[str, Any], _Side, _Side]:
    old = _Side(store, *_entry(change.old))
    new = _Side(store, *_entry(change.new))
    row: dict[str, Any] = {
        "path": new.path or old.path,
        "old_path": old.path if change.type == "rename" else None,
        "status": STATUS.get(change.type, "modified"),
        "kind": "binary",
        "old": old.as_json(),
        "new": new.as_json(),
        "hunks": [],
        "added": 0,
        "removed": 0,
        "too_large": False,
        "hunks_truncated": False,
        "safetensors": None,
    }
    if old.pointer is not None or new.pointer is not None:
        row["kind"] = "lfs"
        return row, old, new
    old_lines, new_lines = text_lines(old.data), text_lines(new.data)
    if old_lines is None or new_lines is None:
        return row, old, new
    row["kind"] = "text"
    if max(len(old.data), len(new.data)) > MAX_DIFF_BYTES or budget <= 0:
        row["too_large"] = budget > 0
        row["hunks_truncated"] = budget <= 0
        return row, old, new
    lines, cut = hunks(old_lines, new_lines, min(budget, MAX_FILE_LINES))
    row["hunks"] = lines
    row["added"] = sum(1 for line in lines if line["kind"] == "+")
    row["removed"] = sum(1 for line in lines if line["kind"] == "-")
    row["hunks_truncated"] = cut
    return row, old, new


def _add_tensor_diffs(
    hub: Hub, session: Session, network_id: int, rows: list[tuple[dict[str, Any], _Side, _Side]]
) -> None:
    wanted = [
        (row, old, new) for row, old, new in rows if str(row["path"]).endswith(".safetensors")
    ]
    if not wanted:
        return
    oids = [s.pointer.oid for _, o, n in wanted for s in (o, n) if s.pointer is not None]
    granted = granted_sizes(session, network_id, oids) if oids else {}
    for row, old, new in wanted:
        try:
            before = _tensors(hub, old, granted)
            after = _tensors(hub, new, granted)
        except RepoHubError as exc:
            row["safetensors"] = {"error": exc.message}
            continue
        if before is None or after is None:
            continue
        row["safetensors"] = diff_tensors(before, after)


def _tensors(hub: Hub, side: _Side, granted: dict[str, int]) -> Tensors | None:
    """{} for a side that does not exist; None when its bytes may not be read."""
    if side.sha is None:
        return {}
    pointer = side.pointer
    if pointer is None:
        data = side.data

        def from_blob(start: int, end: int) -> BinaryIO:
            return io.BytesIO(data[start:end])

        return read_tensors(from_blob, len(data))
    if granted.get(pointer.oid) != pointer.size:
        return None

    def from_lfs(start: int, end: int) -> BinaryIO:
        return hub.lfs.open(pointer.oid, start=start, end=end)

    return read_tensors(from_lfs, pointer.size)
