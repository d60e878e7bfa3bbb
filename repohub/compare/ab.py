"""Starting an A/B evaluation: two revisions' trained weights on one dataset revision.

Both sides must have weights a training job produced (the A/B job evaluates exactly the
models the reports describe); a side without them is named in a 422. The dataset revision
is pinned to a commit when the job is created, so the two evaluations cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from repohub.auth.identity import Identity
from repohub.compare.revisions import Side
from repohub.db.models import Repo
from repohub.errors import InvalidArgument, Unprocessable
from repohub.jobs.creation import Request, create_ab
from repohub.jobs.inputs import trained_weights
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.reading import resolve_revision
from repohub.repos.service import RepoKey, get_repo


class NoWeights(Unprocessable):
    def __init__(self, side: str, shown: Side) -> None:
        super().__init__(
            f"{side} ({shown.label}) has no trained weights: run a training job on it first"
        )
        self.side = side


def _weights(session: Session, name: str, side: Side) -> dict[str, Any]:
    report = trained_weights(session, side.repo.network_id, side.sha)
    if report is None or report.weights_oid is None:
        raise NoWeights(name, side)
    return {
        "repo": side.repo.full_name,
        "spec": side.spec,
        "commit": side.sha,
        "weights_oid": report.weights_oid,
        "train_job": report.job_id,
        "train_spec": (report.data or {}).get("spec") or {},
        "dataset": (report.data or {}).get("dataset") or {},
    }


def _dataset(
    hub: Hub, session: Session, identity: Identity, asked: str | None, head: dict[str, Any]
) -> str:
    """`owner/name@commit`: the one asked for, or the one head was trained on."""
    if not asked:
        info = head["dataset"]
        if not info.get("repo") or not info.get("commit"):
            raise InvalidArgument("dataset: head's training names no dataset: pass one")
        return f"{info['repo']}@{info['commit']}"
    name, _, revision = asked.partition("@")
    owner, _, repo_name = name.partition("/")
    if not owner or not repo_name or "/" in repo_name:
        raise InvalidArgument(f"dataset: {asked!r} is not of the form owner/name[@revision]")
    repo = get_repo(session, identity, RepoKey("dataset", owner, repo_name), Access.READ)
    store = hub.stores.get(repo.network_id)
    commit = resolve_revision(session, store, repo, revision or None).decode()
    return f"{repo.full_name}@{commit}"


def create(
    hub: Hub,
    session: Session,
    identity: Identity,
    repo: Repo,
    sides: tuple[Side, Side],
    dataset: str | None,
) -> dict[str, Any]:
    """Create (or find) the A/B job in the caller's transaction; `repo` passed a write check.
    The caller wakes the scheduler once the transaction has committed."""
    a, b = sides
    base = _weights(session, "base", a)
    head = _weights(session, "head", b)
    data = _dataset(hub, session, identity, dataset, head)
    spec: dict[str, Any] = {
        "ab": {
            "base": {k: v for k, v in base.items() if k not in ("train_spec", "dataset")},
            "head": {k: v for k, v in head.items() if k not in ("train_spec", "dataset")},
        },
        "eval": {"dataset": data},
    }
    train = head["train_spec"].get("train")
    if isinstance(train, dict):
        spec["train"] = train
    created = create_ab(session, Request(repo, b.sha, spec, identity.user_id, "manual", ref=b.ref))
    job = created.job
    return {"job_id": job.id, "state": job.state, "new": created.new, "dataset": data}
