"""Materialising a run's inputs on the worker's disk: dataset trees and weights files.

Every read goes through the one access check (`repos.service.get_repo`) as the user the job
acts for, so a spec cannot name a private dataset its pusher may not read: the job fails with
the same words whether the repo is private or does not exist. LFS files are read only if the
repo's fork network holds a grant for them, exactly as `/resolve` serves them.

A dataset revision is written once per (network, tree id) under the cache directory and
reused by every later run on the same tree.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dulwich.objects import Blob
from sqlalchemy import select
from sqlalchemy.orm import Session

from repohub.auth.identity import Identity
from repohub.db.jobs import Report
from repohub.db.models import Account, Repo
from repohub.errors import NotFound, RepoHubError, Unprocessable
from repohub.objects.lfs import parse_pointer
from repohub.repos import files
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.lfs import granted_sizes
from repohub.repos.reading import resolve_revision, tree_at, walk
from repohub.repos.service import RepoKey, get_repo

WEIGHT_NAMES = ("model.safetensors", "pytorch_model.bin", "model.pt", "model.pth")
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
CHUNK = 1024 * 1024


class InputError(Unprocessable):
    """A spec names an input the job cannot use; the message starts with the spec field."""


@dataclass(frozen=True)
class RepoAt:
    """A repo named by a spec (`owner/name@revision`) and the field that named it."""

    owner: str
    name: str
    revision: str | None
    field: str

    @property
    def shown(self) -> str:
        return f"{self.owner}/{self.name}" + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class Dataset:
    path: Path
    info: dict[str, Any]  # repo, revision, commit, tree: the report's "dataset revision"


def identity_of(session: Session, user_id: int | None) -> Identity:
    """The job's user as the access check sees them; a deleted user reads only public repos."""
    account = session.get(Account, user_id) if user_id is not None else None
    if account is None:
        return Identity()
    return Identity(account.id, account.name, account.is_admin, "write")


def _open_repo(session: Session, identity: Identity, at: RepoAt, repo_type: str) -> Repo:
    try:
        return get_repo(session, identity, RepoKey(repo_type, at.owner, at.name), Access.READ)
    except NotFound:
        who = identity.name or "an anonymous user"
        raise InputError(
            f"{at.field}: no {repo_type} repo {at.owner}/{at.name} that {who} can read"
        ) from None


def _commit(hub: Hub, session: Session, repo: Repo, at: RepoAt) -> bytes:
    try:
        return resolve_revision(session, hub.stores.get(repo.network_id), repo, at.revision)
    except RepoHubError as exc:
        raise InputError(f"{at.field}: {at.shown}: {exc.message}") from None


def dataset(hub: Hub, identity: Identity, at: RepoAt) -> Dataset:
    with hub.sessions() as session:
        repo = _open_repo(session, identity, at, "dataset")
        commit = _commit(hub, session, repo, at)
        store = hub.stores.get(repo.network_id)
        tree = store[commit].tree  # type: ignore[attr-defined]
        info = {
            "repo": repo.full_name,
            "revision": at.revision or repo.default_branch,
            "commit": commit.decode(),
            "tree": tree.decode(),
        }
        root = hub.settings.resolved_cache_dir / "datasets" / str(repo.network_id)
        target = root / tree.decode()
        plan = None if target.is_dir() else _plan(hub, session, repo, commit, at.field)
    if plan is not None:  # written with no database transaction open: it may take a while
        _write(hub, store, plan, target)
    return Dataset(target, info)


@dataclass(frozen=True)
class _File:
    path: str
    blob: bytes  # the git blob's id
    lfs_oid: str | None = None


def _plan(hub: Hub, session: Session, repo: Repo, commit: bytes, field: str) -> list[_File]:
    """Every file of the commit; an LFS pointer only if the network may read its object."""
    store = hub.stores.get(repo.network_id)
    entries = [
        e for e in walk(store, tree_at(store, commit)) if not e.is_dir and not e.is_submodule
    ]
    plan, pointers = [], {}
    for entry in entries:
        if any(part in ("", ".", "..") for part in entry.path.split("/")):
            raise InputError(f"{field}: unsafe path {entry.path!r} in the dataset")
        blob = store[entry.sha]
        pointer = parse_pointer(blob.as_raw_string()) if isinstance(blob, Blob) else None
        if pointer is not None:
            pointers[entry.path] = pointer
        plan.append(_File(entry.path, entry.sha, pointer.oid if pointer else None))
    granted = granted_sizes(session, repo.network_id, [p.oid for p in pointers.values()])
    for path, pointer in pointers.items():
        if granted.get(pointer.oid) != pointer.size:
            raise InputError(f"{field}: {path} is an LFS object never uploaded to the dataset")
    return plan


def _write(hub: Hub, store: Any, plan: list[_File], target: Path) -> None:
    """Write into a temporary directory, then rename it into place: two runs materialising
    the same tree at once both succeed, and one rename wins."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".incoming-", dir=target.parent))
    try:
        for item in plan:
            out = scratch.joinpath(*item.path.split("/"))
            out.parent.mkdir(parents=True, exist_ok=True)
            if item.lfs_oid is None:
                out.write_bytes(store[item.blob].as_raw_string())
                continue
            with hub.lfs.open(item.lfs_oid) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
        try:
            scratch.rename(target)
        except OSError:  # another run put the same tree in place first
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def repo_weights(
    hub: Hub, identity: Identity, at: RepoAt, workdir: Path
) -> tuple[Path, dict[str, Any]]:
    """The weights a model revision holds: a RepoHub-trained artifact for that commit, else
    a weights file in its tree (safetensors first; pickles only as `torch.load` allows)."""
    with hub.sessions() as session:
        repo = _open_repo(session, identity, at, "model")
        commit = _commit(hub, session, repo, at).decode()
        info = {
            "repo": repo.full_name,
            "revision": at.revision or repo.default_branch,
            "commit": commit,
        }
        report = trained_weights(session, repo.network_id, commit)
        if report is not None:
            path = artifact(hub, report.weights_oid or "", workdir)
            return path, {**info, "source": f"job {report.job_id}", "oid": report.weights_oid}
        entry = _weights_file(hub, session, repo, commit, at)
        out = workdir / at.field / Path(entry.path).name  # its own name, for error messages
        out.parent.mkdir(parents=True, exist_ok=True)
        with files.open_bytes(hub, entry) as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
        return out, {**info, "source": entry.path}


def trained_weights(session: Session, network_id: int, commit: str) -> Report | None:
    """The newest report with weights for a commit (a train job's artifact)."""
    return session.scalar(
        select(Report)
        .where(
            Report.network_id == network_id,
            Report.commit_sha == commit,
            Report.weights_oid.is_not(None),
        )
        .order_by(Report.id.desc())
        .limit(1)
    )


def artifact(hub: Hub, oid: str, workdir: Path) -> Path:
    out = workdir / f"{oid}.safetensors"
    if not out.exists():
        with hub.lfs.open(oid) as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    return out


def _weights_file(
    hub: Hub, session: Session, repo: Repo, commit: str, at: RepoAt
) -> files.FileEntry:
    store = hub.stores.get(repo.network_id)
    names = [e.path for e in walk(store, tree_at(store, commit.encode())) if not e.is_dir]
    ordered = [n for n in WEIGHT_NAMES if n in names] + sorted(
        n for s in WEIGHT_SUFFIXES for n in names if n.endswith(s) and n not in WEIGHT_NAMES
    )
    for path in ordered:
        try:
            return files.read_entry(hub, session, repo, commit, path)
        except files.MissingEntry:
            continue  # an LFS pointer this network cannot read: try the next candidate
    raise InputError(
        f"{at.field}: {at.shown} has no weights: no job trained it and no "
        f"{', '.join('*' + s for s in WEIGHT_SUFFIXES)} file is readable at {commit[:12]}"
    )
