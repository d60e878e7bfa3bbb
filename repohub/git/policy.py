"""Which ref updates a push may make, decided before any ref moves.

These are the built-in rules of every repo (ref-name format, protected default branch,
objects present, branches point at commits); site hooks come on top of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from dulwich.objects import ZERO_SHA, Commit, ShaFile, Tag
from dulwich.refs import check_ref_format

from repohub.refs.sqlrefs import RefUpdate

MAX_ANCESTRY_WALK = 200_000


@dataclass(frozen=True)
class RepoRules:
    default_branch: str
    protect_default_branch: bool


def is_ancestor(get: Callable[[bytes], ShaFile], old: bytes, new: bytes) -> bool:
    """Whether `old` is reachable from `new` (a fast-forward), walking parents breadth-first."""
    seen = {new}
    queue = deque([new])
    while queue and len(seen) < MAX_ANCESTRY_WALK:
        sha = queue.popleft()
        if sha == old:
            return True
        try:
            commit = get(sha)
        except KeyError:
            continue  # shallow boundary: we cannot prove ancestry beyond it
        for parent in getattr(commit, "parents", ()):
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return False


def _is_utf8(name: bytes) -> bool:
    """Refs live in the database as text and in URLs as their name, so, unlike paths (shown
    escaped, see `repohub.repos.paths`), a name that is not UTF-8 is refused at the door."""
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_update(u: RefUpdate, rules: RepoRules, get: Callable[[bytes], ShaFile]) -> str | None:
    """None if the update is allowed, else the reason git shows the pusher."""
    if not u.ref.startswith(b"refs/") or not check_ref_format(u.ref):
        return "invalid ref name"
    if not _is_utf8(u.ref):
        return "invalid ref name: ref names must be UTF-8"
    default_ref = b"refs/heads/" + rules.default_branch.encode()
    if u.new == ZERO_SHA:
        return "refusing to delete the default branch" if u.ref == default_ref else None
    try:
        target = get(u.new)
    except KeyError:
        return "missing objects: the pack lacks the new tip"
    if u.ref.startswith(b"refs/heads/"):
        if not isinstance(target, Commit):
            return "a branch must point at a commit"
        if (
            u.old != ZERO_SHA
            and u.ref == default_ref
            and rules.protect_default_branch
            and not is_ancestor(get, u.old, u.new)
        ):
            return "non-fast-forward: force-push to the protected default branch is refused"
    elif u.ref.startswith(b"refs/tags/") and not isinstance(target, Commit | Tag):
        return "a tag must point at a commit or a tag object"
    return None
