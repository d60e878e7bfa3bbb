"""Two sides' reports side by side: verdicts, metrics per split, curves, per class,
confusion matrices, the dataset each was measured on, and the samples head fixes or breaks.

Pure functions over stored report data (`repohub.eval.report.build_report` shapes), so the
page, the API and the tests all read the same numbers from the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from repohub.eval.paired import Pairs, pair

LOWER_IS_BETTER = ("loss", "error")
HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "iou", "dice")
HEADLINE = ("accuracy", "loss", "f1", "iou", "dice")
SPLITS = ("train", "val", "test")
SHOWN_SAMPLES = 100
SAME = 1e-9


@dataclass(frozen=True)
class Reports:
    """One side's newest train and eval reports (their stored `data`), either may be None."""

    train: dict[str, Any] | None
    eval: dict[str, Any] | None

    @property
    def measured(self) -> dict[str, Any] | None:
        """The report whose test figures count: the evaluation's, else the training's."""
        return self.eval or self.train


def direction(metric: str) -> str | None:
    name = metric.lower()
    if any(name == m or name.endswith(f"_{m}") for m in LOWER_IS_BETTER):
        return "lower"
    if any(name == m or name.endswith(f"_{m}") for m in HIGHER_IS_BETTER):
        return "higher"
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def judge(metric: str, base: float, head: float) -> dict[str, Any]:
    delta = head - base
    better = direction(metric)
    if abs(delta) <= SAME or better is None:
        verdict = "unchanged" if abs(delta) <= SAME else "changed"
    else:
        verdict = "better" if (delta > 0) == (better == "higher") else "worse"
    return {"base": base, "head": head, "delta": delta, "better": better, "verdict": verdict}


def split_metrics(reports: Reports) -> dict[str, dict[str, Any]]:
    """Final metrics per split: training's, with the evaluation's figures laid over them."""
    merged: dict[str, dict[str, Any]] = {}
    for report in (reports.train, reports.eval):
        for split, figures in ((report or {}).get("metrics") or {}).items():
            merged.setdefault(split, {}).update(figures)
    return merged


def metrics(base: Reports, head: Reports) -> dict[str, dict[str, Any]]:
    a, b = split_metrics(base), split_metrics(head)
    found: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        shared = sorted(
            n
            for n in set(a.get(split, {})) & set(b.get(split, {}))
            if n != "samples" and _number(a[split][n]) and _number(b[split][n])
        )
        if shared:
            found[split] = {n: judge(n, a[split][n], b[split][n]) for n in shared}
    return found


def verdicts(figures: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Headline metrics of the most held-out split both sides have."""
    for split in ("test", "val", "train"):
        if split in figures:
            chosen = [m for m in HEADLINE if m in figures[split]]
            return [{"metric": m, "split": split, **figures[split][m]} for m in chosen]
    return []


def curves(base: Reports, head: Reports) -> dict[str, dict[str, list[Any]]]:
    def of(side: Reports, scope: str) -> list[Any]:
        return list(((side.train or {}).get("curves") or {}).get(scope) or [])

    return {
        scope: {"base": of(base, scope), "head": of(head, scope)} for scope in ("step", "epoch")
    }


def per_class(base: Reports, head: Reports) -> list[dict[str, Any]]:
    a = {r["name"]: r for r in (base.measured or {}).get("per_class") or []}
    rows = []
    for row in (head.measured or {}).get("per_class") or []:
        old = a.get(row["name"])
        if old is None:
            continue
        fields = [k for k, v in row.items() if k not in ("name", "support") and _number(v)]
        pick = {k: old[k] for k in fields if _number(old.get(k))}
        rows.append(
            {
                "name": row["name"],
                "base": {"support": old.get("support"), **pick},
                "head": {"support": row.get("support"), **{k: row[k] for k in pick}},
                "delta": {k: row[k] - pick[k] for k in pick},
            }
        )
    return rows


def confusion(base: Reports, head: Reports) -> dict[str, Any] | None:
    a = (base.measured or {}).get("confusion_matrix")
    b = (head.measured or {}).get("confusion_matrix")
    if not a or not b or a.get("labels") != b.get("labels"):
        return None
    difference = [
        [h - o for o, h in zip(row_a, row_b, strict=True)]
        for row_a, row_b in zip(a["matrix"], b["matrix"], strict=True)
    ]
    return {
        "labels": a["labels"],
        "split": b.get("split"),
        "base": a["matrix"],
        "head": b["matrix"],
        "difference": difference,
    }


def dataset_of(report: dict[str, Any] | None) -> str | None:
    info = (report or {}).get("dataset") or {}
    return f"{info['repo']}@{info['commit']}" if info.get("repo") and info.get("commit") else None


def dataset_mismatch(base: Reports, head: Reports) -> dict[str, Any] | None:
    a, b = dataset_of(base.measured), dataset_of(head.measured)
    if a is None or b is None or a == b:
        return None
    same_repo = a.split("@")[0] == b.split("@")[0]
    what = "different revisions of a dataset" if same_repo else "different datasets"
    return {
        "base": a,
        "head": b,
        "message": f"The two versions were evaluated on {what} ({a[:-33]} and {b[:-33]}): "
        "their figures are not directly comparable. An A/B evaluation runs both on one "
        "dataset revision.",
    }


def _predictions(report: dict[str, Any] | None) -> dict[str, Any] | None:
    block = (report or {}).get("predictions")
    return block if isinstance(block, dict) and block.get("paths") else None


def report_pairs(base: Reports, head: Reports) -> tuple[Pairs | None, str | None, str | None]:
    """Paired predictions from the two sides' own reports, or why there are none."""
    a, b = _predictions(base.measured), _predictions(head.measured)
    if a is None or b is None:
        return None, None, "per-sample predictions are missing from a report (run an evaluation)"
    da, db = dataset_of(base.measured), dataset_of(head.measured)
    if da != db or a.get("split") != b.get("split"):
        return None, None, "the two were evaluated on different data (run an A/B evaluation)"
    return pair(a, b), da, None


def samples(
    pairs: Pairs | None,
    dataset: str | None,
    classes: list[str],
    reason: str | None,
    limit: int | None = SHOWN_SAMPLES,
) -> dict[str, Any]:
    if pairs is None or dataset is None:
        return {
            "comparable": False,
            "reason": reason,
            "fixed": [],
            "broken": [],
            "fixed_count": 0,
            "broken_count": 0,
            "dataset": dataset,
        }
    repo, sha = dataset.split("@", 1)
    fixed, broken = [], []
    for i, path in enumerate(pairs.paths):
        truth, old, new = pairs.true[i], pairs.base[i], pairs.head[i]
        if (old == truth) == (new == truth):
            continue
        row = {
            "path": path,
            "url": f"/datasets/{repo}/resolve/{sha}/{path}",
            "true": _label(classes, truth),
            "base": {"predicted": _label(classes, old), "confidence": pairs.base_confidence[i]},
            "head": {"predicted": _label(classes, new), "confidence": pairs.head_confidence[i]},
        }
        (fixed if new == truth else broken).append(row)
    return {
        "comparable": True,
        "reason": None,
        "dataset": dataset,
        "fixed_count": len(fixed),
        "broken_count": len(broken),
        "fixed": fixed[:limit] if limit else fixed,
        "broken": broken[:limit] if limit else broken,
    }


def _label(classes: list[str], index: int) -> str:
    return classes[index] if 0 <= index < len(classes) else str(index)
