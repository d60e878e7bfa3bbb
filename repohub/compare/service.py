"""Compare two versions of a repo: the one entry point of the page, the API and the CLI.

`build_compare(hub, identity, key, base, head)` returns this JSON-able dict (the API answers
it as it is; the web page renders it):

```
{
  "repo": "owner/name", "repo_type": "model" | "dataset",
  "base": {"spec": "main", "repo": "owner/name", "ref": "refs/heads/main" | null,
           "sha": "<40 hex>"},
  "head": {... same ...},
  "merge_base": "<sha>" | null, "ahead_by": int, "behind_by": int,
  "commits": [{"sha", "title", "author", "date"}],     # head's new commits, newest first, <= 250
  "reports": {"base": {"train": {"id", "job_id", "created_at"} | null, "eval": {...} | null},
              "head": {...}},
  "missing": [{"side", "kind": "train"|"eval", "job_state": "queued"|"running"|"failed"|... | null,
               "message": "base (main @ abc1234) has no evaluation report yet"}],
  "verdicts": [{"metric", "split", "base", "head", "delta", "better": "higher"|"lower"|null,
                "verdict": "better"|"worse"|"unchanged"|"changed"}],
  "metrics": {split: {metric: {"base", "head", "delta", "better", "verdict"}}},
  "dataset_mismatch": null | {"base": "o/n@sha", "head": "o/n@sha", "message"},
  "curves": {"step": {"base": [points], "head": [points]}, "epoch": {...}},
  "per_class": [{"name", "base": {"support", "precision", ...}, "head": {...}, "delta": {...}}],
  "confusion": null | {"labels", "split", "base": [[int]], "head": [[int]], "difference": [[int]]},
  "samples": {"comparable": bool, "reason": str | null, "dataset": "o/n@sha" | null,
              "fixed_count": int, "broken_count": int,
              "fixed": [{"path", "url", "true", "base": {"predicted", "confidence"},
                         "head": {...}}],
              "broken": [...]},                # at most 100 of each here; the zip has all
  "config": {"spec": {"base_text", "head_text", "diff": [unified diff lines],
                      "changes": [{"key", "base", "head"}]},
             "card": {"changes": [{"key", "base", "head"}]}},
  "files": {"truncated": bool,
            "changed": [{"path", "old_path", "status": "added"|"removed"|"modified"|"renamed",
                         "kind": "text"|"lfs"|"binary",
                         "old": {"size", "oid", "sha256"} | null, "new": {...} | null,
                         "hunks": [{"kind": " "|"+"|"-"|"@", "old", "new", "text"}],
                         "added", "removed", "too_large", "hunks_truncated",
                         "safetensors": null | {"error"} | {"added": [{"name","dtype","shape"}],
                             "removed": [...], "reshaped": [{"name","old_shape","new_shape"}],
                             "retyped": [{"name","old_dtype","new_dtype"}], "unchanged",
                             "params_before", "params_after"}}]},
  "ab": null | {"job_id", "state", "dataset": "o/n@sha", "result": null | {
          "n", "base_accuracy", "head_accuracy", "difference", "ci95": [lo, hi],
          "both_right", "base_only", "head_only", "both_wrong", "mcnemar_p",
          "mcnemar_method": "exact"|"chi2"}}
}
```

What git says about two commits never changes, so commits, files and configuration are
computed once per (network, base sha, head sha) and kept in a small per-process cache;
reports are read on every call (a job may finish between two views).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from repohub.auth.identity import Identity
from repohub.compare import ab, commits, config, download, files, reports
from repohub.compare.revisions import Side, resolve_side
from repohub.db.jobs import Job, Report
from repohub.db.models import Repo
from repohub.eval.paired import stored_pairs
from repohub.jobs.wakeup import poke
from repohub.objects.gitstore import NetworkObjectStore
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.lru import Lru
from repohub.repos.service import RepoKey, get_repo

T = TypeVar("T")
CACHE_ENTRIES = 32
KIND_WORDS = {"train": "training", "eval": "evaluation"}


_git_parts: Lru[Any] = Lru(CACHE_ENTRIES)  # keyed by (network, base sha, head sha)


def with_store(hub: Hub, network_id: int, read: Callable[[NetworkObjectStore], T]) -> T:
    """Read from this node's cached packs; refresh only when an object is missing."""
    try:
        return read(hub.stores.get(network_id, refresh=False))
    except KeyError:
        return read(hub.stores.get(network_id))


def resolve_sides(
    hub: Hub, session: Session, identity: Identity, repo: Repo, base: str, head: str
) -> tuple[Side, Side]:
    def read(store: NetworkObjectStore) -> tuple[Side, Side]:
        return (
            resolve_side(session, store, identity, repo, base),
            resolve_side(session, store, identity, repo, head),
        )

    return with_store(hub, repo.network_id, read)


def build_compare(
    hub: Hub, identity: Identity, key: RepoKey, base: str, head: str
) -> dict[str, Any]:
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.READ)
        a, b = resolve_sides(hub, session, identity, repo, base, head)
        key = (repo.network_id, a.sha, b.sha)
        git = _git_parts.peek(key)
        if git is None:
            git = _git_compare(hub, session, repo, a, b)
            if _settled(git):
                _git_parts.put(key, git)
        found = _reports_part(session, repo, a, b)
    return {
        "repo": repo.full_name,
        "repo_type": repo.repo_type,
        "base": a.as_json(),
        "head": b.as_json(),
        **git,
        **found,
    }


def _git_compare(hub: Hub, session: Session, repo: Repo, a: Side, b: Side) -> dict[str, Any]:
    def read(store: NetworkObjectStore) -> dict[str, Any]:
        between = commits.between(store, a.sha, b.sha)
        return {
            "merge_base": between.merge_base,
            "ahead_by": between.ahead_by,
            "behind_by": between.behind_by,
            "commits": between.commits,
            "config": config.config_diff(store, a.sha, b.sha),
            "files": files.changed_files(hub, session, store, repo.network_id, a.sha, b.sha),
        }

    return with_store(hub, repo.network_id, read)


def _settled(git: dict[str, Any]) -> bool:
    """Whether the git parts may be cached: not while a `.safetensors` side may not be read
    yet (its LFS object not uploaded to the network), so a later view shows the tensor diff.
    A header that is not valid safetensors stays an error: that never changes."""
    changed = git["files"]["changed"]
    return all("safetensors" in row for row in changed if str(row["path"]).endswith(".safetensors"))


def _newest(session: Session, network_id: int, sha: str) -> dict[str, Report]:
    """The newest report of each kind on a commit."""
    newest: dict[str, Report] = {}
    rows = session.scalars(
        select(Report)
        .where(Report.network_id == network_id, Report.commit_sha == sha)
        .order_by(Report.id.desc())
    )
    for report in rows:
        newest.setdefault(report.kind, report)
    return newest


def _loaded(newest: dict[str, Report]) -> reports.Reports:
    train, evaluation = newest.get("train"), newest.get("eval")
    return reports.Reports(
        train.data if train is not None else None,
        evaluation.data if evaluation is not None else None,
    )


def _job_state(session: Session, network_id: int, sha: str, kind: str) -> str | None:
    return session.scalar(
        select(Job.state)
        .where(Job.network_id == network_id, Job.commit_sha == sha, Job.kind == kind)
        .order_by(Job.id.desc())
        .limit(1)
    )


def _report_ref(report: Report | None) -> dict[str, Any] | None:
    if report is None:
        return None
    created = report.created_at.isoformat(timespec="seconds") + "Z"
    return {"id": report.id, "job_id": report.job_id, "created_at": created}


def _reports_part(session: Session, repo: Repo, a: Side, b: Side) -> dict[str, Any]:
    refs: dict[str, Any] = {}
    loaded: dict[str, reports.Reports] = {}
    missing = []
    for name, side in (("base", a), ("head", b)):
        newest = _newest(session, repo.network_id, side.sha)
        refs[name] = {kind: _report_ref(newest.get(kind)) for kind in ("train", "eval")}
        loaded[name] = _loaded(newest)
        for kind in ("train", "eval"):
            if kind not in newest and repo.repo_type == "model":  # datasets are not trained
                missing.append(
                    {
                        "side": name,
                        "kind": kind,
                        "job_state": _job_state(session, repo.network_id, side.sha, kind),
                        "message": f"{name} ({side.label}) has no {KIND_WORDS[kind]} report yet",
                    }
                )
    base, head = loaded["base"], loaded["head"]
    figures = reports.metrics(base, head)
    ab = _ab(session, repo, a, b)
    return {
        "reports": refs,
        "missing": missing,
        "verdicts": reports.verdicts(figures),
        "metrics": figures,
        "dataset_mismatch": reports.dataset_mismatch(base, head),
        "curves": reports.curves(base, head),
        "per_class": reports.per_class(base, head),
        "confusion": reports.confusion(base, head),
        "samples": _paired_samples(base, head, ab, reports.SHOWN_SAMPLES),
        "ab": None if ab is None else {k: v for k, v in ab.items() if k != "report"},
    }


def start_ab(
    hub: Hub,
    identity: Identity,
    key: RepoKey,
    base: str,
    head: str,
    dataset: str | None = None,
) -> dict[str, Any]:
    """Start (or find) the A/B evaluation of `base...head`: {"job_id", "state", "new",
    "dataset"}. Needs write access to the repo, like any manual job."""
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.WRITE)
        sides = resolve_sides(hub, session, identity, repo, base, head)
        answer = ab.create(hub, session, identity, repo, sides, dataset)
    poke(hub.settings.data_dir.resolve())
    return answer


def _paired_samples(
    base: reports.Reports, head: reports.Reports, ab: dict[str, Any] | None, limit: int | None
) -> dict[str, Any]:
    """From a finished A/B job when there is one (same data by construction), else from the
    two sides' own evaluation reports when they ran on the same dataset revision."""
    classes = list((head.measured or base.measured or {}).get("classes") or [])
    if ab is not None and ab["report"] is not None:
        data = ab["report"]
        pairs = stored_pairs(data)
        return reports.samples(pairs, ab["dataset"], data.get("classes") or classes, None, limit)
    pairs, dataset, reason = reports.report_pairs(base, head)
    return reports.samples(pairs, dataset, classes, reason, limit)


def _samples(session: Session, repo: Repo, a: Side, b: Side, limit: int | None) -> dict[str, Any]:
    base, head = (_loaded(_newest(session, repo.network_id, side.sha)) for side in (a, b))
    return _paired_samples(base, head, _ab(session, repo, a, b), limit)


def find_ab(session: Session, network_id: int, base_sha: str, head_sha: str) -> Job | None:
    """The newest A/B job of exactly these two commits."""
    rows = session.scalars(
        select(Job)
        .where(Job.network_id == network_id, Job.commit_sha == head_sha, Job.kind == "ab")
        .order_by(Job.id.desc())
    )
    for job in rows:
        if ((job.spec or {}).get("ab") or {}).get("base", {}).get("commit") == base_sha:
            return job
    return None


def _ab(session: Session, repo: Repo, a: Side, b: Side) -> dict[str, Any] | None:
    job = find_ab(session, repo.network_id, a.sha, b.sha)
    if job is None:
        return None
    report = session.scalar(select(Report).where(Report.job_id == job.id))
    data = report.data if report is not None else None
    return {
        "job_id": job.id,
        "state": job.state,
        "dataset": (job.spec.get("eval") or {}).get("dataset"),
        "result": (data or {}).get("statistics"),
        "report": data,
    }


def samples_zip(
    hub: Hub, identity: Identity, key: RepoKey, base: str, head: str, which: str
) -> bytes:
    """Every fixed and/or broken sample of `base...head` (not only the shown ones), zipped."""
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.READ)
        a, b = resolve_sides(hub, session, identity, repo, base, head)
        found = _samples(session, repo, a, b, limit=None)
    return download.samples_zip(hub, identity, found, which)
