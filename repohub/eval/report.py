"""A run's raw results turned into the report stored against (repo, commit, spec).

`repohub.train` hands back losses, confusion matrices and curves; this module derives every
figure a reader sees (split metrics, per-class precision/recall/F1, IoU/Dice, the confusion
matrix) and the short headline a job list shows. Pure functions over plain data.
"""

from __future__ import annotations

from typing import Any

from repohub.eval.metrics import per_class, summary

CLASS_FIELDS = ("precision", "recall", "f1")
SEGMENTATION_FIELDS = ("iou", "dice")
SPLITS = ("train", "val", "test")


def build_report(
    raw: dict[str, Any], context: dict[str, Any], metrics: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """`context` carries what the worker knows (job, dataset revision, hyper-parameters);
    `metrics` (an eval spec's list) limits what is reported, None means everything."""
    segmentation = raw["task"] == "image-segmentation"
    names = list(raw["classes"])
    splits = raw["splits"]
    wanted = _wanted(metrics, segmentation)
    figures = {}
    for split in SPLITS:
        if split in splits:
            values = summary(splits[split]["confusion"], names, segmentation)
            kept = {k: v for k, v in values.items() if k in wanted}
            figures[split] = {
                **kept,
                "loss": splits[split]["loss"],
                "samples": splits[split]["samples"],
            }
    detail_split = next(s for s in ("test", "val", "train") if s in splits)
    confusion = splits[detail_split]["confusion"]
    fields = CLASS_FIELDS if not segmentation else (*SEGMENTATION_FIELDS, "precision", "recall")
    report: dict[str, Any] = {
        "kind": raw["kind"],
        "task": raw["task"],
        "model": raw["model"],
        "classes": names,
        **context,
        "metrics": figures,
        "detail_split": detail_split,
        "per_class": [
            {
                "name": c.name,
                "support": c.support,
                **{f: getattr(c, f) for f in fields if f in wanted},
            }
            for c in per_class(confusion, names)
        ],
        "misclassified": raw.get("mistakes", []),
        "predictions": raw.get("predictions"),
        "curves": raw.get("curves", {"step": [], "epoch": []}),
        "run_seconds": raw.get("duration_seconds"),
        "peak_memory_bytes": raw.get("peak_memory_bytes"),
        "environment": raw.get("environment", {}),
        "normalize": raw.get("normalize"),
    }
    if "confusion_matrix" in wanted:
        report["confusion_matrix"] = {"split": detail_split, "labels": names, "matrix": confusion}
    for key in (
        "epochs_run",
        "best_epoch",
        "early_stopped",
        "train_seconds",
        "train_cpu_seconds",
        "images_per_second",
    ):
        if key in raw:
            report[key] = raw[key]
    return report


def _wanted(metrics: tuple[str, ...] | None, segmentation: bool) -> set[str]:
    if metrics is None:
        everything = {"accuracy", "confusion_matrix", *CLASS_FIELDS}
        return everything | set(SEGMENTATION_FIELDS) if segmentation else everything
    return set(metrics)


def headline(report: dict[str, Any]) -> dict[str, float]:
    """A few figures for lists and status marks: the most held-out split's metrics."""
    stats = report.get("statistics")
    if report.get("kind") == "ab" and isinstance(stats, dict):
        return {
            "ab_difference": round(float(stats["difference"]), 4),
            "ab_mcnemar_p": round(float(stats["mcnemar_p"]), 4),
        }
    figures = report.get("metrics", {})
    for split in ("test", "val", "train"):
        if split in figures:
            return {
                f"{split}_{k}": round(float(v), 4)
                for k, v in figures[split].items()
                if k not in ("samples",)
            }
    return {}


def compare(base: dict[str, Any], head: dict[str, Any]) -> list[dict[str, Any]]:
    """Metric by metric, split by split: base, head and the change (head minus base)."""
    rows = []
    for split in SPLITS:
        a = base.get("metrics", {}).get(split, {})
        b = head.get("metrics", {}).get(split, {})
        for name in sorted(set(a) & set(b) - {"samples"}):
            rows.append(
                {
                    "split": split,
                    "metric": name,
                    "base": a[name],
                    "head": b[name],
                    "delta": b[name] - a[name],
                }
            )
    return rows
