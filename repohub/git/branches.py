"""Branches and tags made and removed over the Hub API, as a push of just those refs.

`create_branch`, `delete_branch`, `create_tag` and `delete_tag` move refs through
`apply_push` like any `git push`: the same name rules, protected default branch, hooks and
push log. An annotated tag (one with a message) is a new object, stored as a pack first.
"""

from __future__ import annotations

import time

from dulwich.objects import ZERO_SHA, Commit, Tag
from dulwich.refs import check_ref_format

from repohub.auth.identity import Identity
from repohub.errors import Conflict, InvalidArgument, PermissionDenied, RevisionNotFound
from repohub.git.service import GitTarget, authorize, push_context
from repohub.git.updates import apply_push, quarantine, require_moved
from repohub.objects.gitstore import IncomingPack, NetworkObjectStore
from repohub.refs.sqlrefs import RefUpdate, SqlRefsContainer
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.reading import resolve_revision
from repohub.repos.service import RepoKey, get_repo


def _ref(prefix: bytes, name: str, what: str) -> bytes:
    if not name or name.startswith("refs/"):
        raise InvalidArgument(f"invalid {what} name {name[:100]!r}: give the short name")
    ref = prefix + name.encode()
    if not check_ref_format(ref):
        raise InvalidArgument(f"invalid {what} name {name[:100]!r}")
    return ref


def _resolve(hub: Hub, identity: Identity, key: RepoKey, target: GitTarget, rev: str) -> bytes:
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.WRITE)
        store = hub.stores.get(target.network_id)
        return resolve_revision(session, store, repo, rev or None)


def _move(
    hub: Hub,
    identity: Identity,
    target: GitTarget,
    update: RefUpdate,
    incoming: IncomingPack | None = None,
) -> None:
    store = hub.stores.get(target.network_id)
    refs = SqlRefsContainer(hub.sessions, target.repo_id, user_id=identity.user_id)
    push = push_context(hub, identity, target, store, refs)
    outcome = apply_push(push, [update], incoming, atomic=True)
    require_moved(outcome, update.ref, lost=Conflict(f"{update.ref.decode()} moved meanwhile"))


def _current(hub: Hub, target: GitTarget, identity: Identity, ref: bytes) -> bytes | None:
    refs = SqlRefsContainer(hub.sessions, target.repo_id, user_id=identity.user_id)
    return refs.as_dict().get(ref)


def create_branch(
    hub: Hub, identity: Identity, key: RepoKey, branch: str, starting_point: str | None
) -> None:
    target = authorize(hub, identity, key, "git-receive-pack")
    ref = _ref(b"refs/heads/", branch, "branch")
    start = _resolve(hub, identity, key, target, starting_point or "")
    if _current(hub, target, identity, ref) is not None:
        raise Conflict(f"Reference {ref.decode()} already exists")
    _move(hub, identity, target, RefUpdate(ref, ZERO_SHA, start))


def delete_branch(hub: Hub, identity: Identity, key: RepoKey, branch: str) -> None:
    target = authorize(hub, identity, key, "git-receive-pack")
    ref = _ref(b"refs/heads/", branch, "branch")
    if branch == target.rules.default_branch:
        raise PermissionDenied(f"Cannot delete {ref.decode()}: it is the default branch")
    old = _current(hub, target, identity, ref)
    if old is None:
        raise RevisionNotFound(f"Invalid rev id: {branch}")
    _move(hub, identity, target, RefUpdate(ref, old, ZERO_SHA))


def create_tag(
    hub: Hub, identity: Identity, key: RepoKey, revision: str, tag: str, message: str | None
) -> None:
    target = authorize(hub, identity, key, "git-receive-pack")
    ref = _ref(b"refs/tags/", tag, "tag")
    commit = _resolve(hub, identity, key, target, revision)
    if _current(hub, target, identity, ref) is not None:
        raise Conflict(f"Tag {tag} already exists")
    if not message:
        _move(hub, identity, target, RefUpdate(ref, ZERO_SHA, commit))
        return
    store = hub.stores.get(target.network_id)
    annotated = _annotated(store, commit, tag, message, identity)
    incoming = quarantine(hub.settings.max_pack_bytes, store, [annotated])
    try:
        _move(hub, identity, target, RefUpdate(ref, ZERO_SHA, annotated.id), incoming)
    finally:
        incoming.discard()


def delete_tag(hub: Hub, identity: Identity, key: RepoKey, tag: str) -> None:
    target = authorize(hub, identity, key, "git-receive-pack")
    ref = _ref(b"refs/tags/", tag, "tag")
    old = _current(hub, target, identity, ref)
    if old is None:
        raise RevisionNotFound(f"Invalid rev id: {tag}")
    _move(hub, identity, target, RefUpdate(ref, old, ZERO_SHA))


def _annotated(
    store: NetworkObjectStore, commit: bytes, tag: str, message: str, identity: Identity
) -> Tag:
    obj = Tag()
    obj.object = (Commit, commit)
    obj.name = tag.encode()
    obj.tagger = f"{identity.name} <{identity.name}@users.noreply>".encode()
    obj.tag_time = int(time.time())
    obj.tag_timezone = 0
    obj.message = message.encode() + (b"" if message.endswith("\n") else b"\n")
    return obj
