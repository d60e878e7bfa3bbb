"""Publish: commit a job's trained weights and its metrics to a branch, as the user.

The new commit adds the weights as an LFS pointer (the object is already stored and granted
to the repo's network), makes sure `.gitattributes` sends `*.safetensors` to LFS, and writes
a `metrics` block into the model card's front matter. It is built from dulwich objects,
stored as one pack in the network's object store (as a push would be), and the branch moves
by compare-and-swap: if someone pushed meanwhile, publishing fails instead of losing work.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import yaml
from dulwich.objects import ZERO_SHA, Blob, Commit, ShaFile, Tree
from dulwich.pack import write_pack_objects
from dulwich.refs import check_ref_format

from repohub.auth.identity import Identity
from repohub.db.jobs import Job, Report
from repohub.db.models import Account
from repohub.errors import Conflict, InvalidArgument
from repohub.jobs import service, states
from repohub.objects.gitstore import NetworkObjectStore
from repohub.refs.sqlrefs import RefUpdate, apply_ref_updates
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.reading import repo_refs

LFS_LINE = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
CARD = "README.md"
FILE_MODE = 0o100644
DIR_MODE = 0o040000


@dataclass(frozen=True)
class Published:
    commit: str
    branch: str
    path: str


def publish(
    hub: Hub,
    identity: Identity,
    job_id: int,
    *,
    branch: str,
    path: str = "model.safetensors",
    message: str | None = None,
) -> Published:
    ref = f"refs/heads/{branch}".encode()
    if not branch or not check_ref_format(ref):
        raise InvalidArgument(f"branch: {branch!r} is not a valid branch name")
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts) or not path.endswith(".safetensors"):
        raise InvalidArgument(f"path: {path!r} must be a relative path ending in .safetensors")
    with hub.sessions() as session:
        job, repo = service.get_job(session, identity, job_id, Access.WRITE)
        report = service.job_report(session, job_id)
        if job.state != states.SUCCEEDED or report is None or report.weights_oid is None:
            raise Conflict(f"job {job_id} has no trained weights to publish")
        author = session.get(Account, identity.user_id) if identity.user_id else None
        old = repo_refs(session, repo).get(ref.decode())
        repo_id, network_id = repo.id, repo.network_id
    store = hub.stores.get(network_id)
    parent = (old or job.commit_sha).encode()
    objects, tree = _new_tree(store, store[parent].tree, parts, report, job)  # type: ignore[attr-defined]
    commit = Commit()
    commit.tree, commit.parents = tree.id, [parent]
    name = author.name if author else "RepoHub"
    email = (author.email if author else None) or f"{name}@users.noreply"
    commit.author = commit.committer = f"{name} <{email}>".encode()
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    headline = ", ".join(f"{k} {v:.4f}" for k, v in list(report.headline.items())[:2])
    text = message or f"Publish weights of {job.kind} job {job.id}" + (
        f" ({headline})" if headline else ""
    )
    commit.message = text.encode() + b"\n"
    _store(store, [*objects, commit])
    update = RefUpdate(ref, old.encode() if old else ZERO_SHA, commit.id)
    failed = apply_ref_updates(
        hub.sessions, repo_id, [update], user_id=identity.user_id, atomic=True
    )
    if failed.get(ref):
        raise Conflict(f"{branch} moved while publishing: {failed[ref]}")
    return Published(commit.id.decode(), branch, "/".join(parts))


def _new_tree(
    store: NetworkObjectStore, base: bytes, parts: list[str], report: Report, job: Job
) -> tuple[list[ShaFile], Tree]:
    pointer = Blob.from_string(
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{report.weights_oid}\n"
        f"size {report.weights_size}\n".encode()
    )
    root = store[base]
    assert isinstance(root, Tree)
    attributes = Blob.from_string(_with_lfs_rule(_read(store, root, ".gitattributes")))
    card = Blob.from_string(_with_metrics(_read(store, root, CARD), report, job))
    written: list[ShaFile] = [pointer, attributes, card]
    tree = _put(store, root, parts, pointer.id, written)
    tree = _put(store, tree, [".gitattributes"], attributes.id, written)
    tree = _put(store, tree, [CARD], card.id, written)
    return written, tree


def _read(store: NetworkObjectStore, tree: Tree, name: str) -> bytes:
    try:
        _, sha = tree[name.encode()]
    except KeyError:
        return b""
    return store[sha].as_raw_string()


def _put(
    store: NetworkObjectStore, tree: Tree, parts: list[str], blob: bytes, out: list[ShaFile]
) -> Tree:
    """A copy of `tree` with `parts` pointing at `blob`; new subtrees are appended to `out`."""
    copy = Tree()
    for item in tree.iteritems():
        copy.add(item.path, item.mode, item.sha)
    name = parts[0].encode()
    if len(parts) == 1:
        copy.add(name, FILE_MODE, blob)
    else:
        try:
            mode, sha = tree[name]
            child = store[sha] if mode == DIR_MODE else Tree()
        except KeyError:
            child = Tree()
        assert isinstance(child, Tree)
        copy.add(name, DIR_MODE, _put(store, child, parts[1:], blob, out).id)
    out.append(copy)
    return copy


def _with_lfs_rule(current: bytes) -> bytes:
    if any(line.split()[:2] == [b"*.safetensors", b"filter=lfs"] for line in current.splitlines()):
        return current
    if current and not current.endswith(b"\n"):
        current += b"\n"
    return current + LFS_LINE


def _with_metrics(card: bytes, report: Report, job: Job) -> bytes:
    """The card with its front matter's `metrics` replaced; everything else kept."""
    text = card.decode("utf-8", "replace")
    front: dict[str, Any] = {}
    body = text
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            loaded = yaml.safe_load(text[4:end]) or {}
            front = loaded if isinstance(loaded, dict) else {}
            body = text[end + 4 :].lstrip("\n")
    dataset = report.data.get("dataset", {})
    front["metrics"] = {
        **{k: float(v) for k, v in report.headline.items()},
        "dataset": f"{dataset.get('repo')}@{dataset.get('commit')}" if dataset else None,
        "trained_at_commit": job.commit_sha,
        "job": job.id,
    }
    matter = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
    return f"---\n{matter}---\n\n{body}".encode()


def _store(store: NetworkObjectStore, objects: list[ShaFile]) -> None:
    buf = io.BytesIO()
    unique = {o.id: o for o in objects}
    write_pack_objects(
        buf.write, [(o, None) for o in unique.values()], object_format=store.object_format
    )
    buf.seek(0)
    store.receive_pack(buf.read, None).publish()
