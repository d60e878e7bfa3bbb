"""Metrics from a confusion matrix (rows: true class, columns: predicted class).

Classification and segmentation alike reduce to a confusion matrix (of images, or of
pixels), so one set of formulas serves both and every report counts the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

Matrix = list[list[int]]


@dataclass(frozen=True)
class ClassMetrics:
    name: str
    support: int  # true instances (images, or pixels for segmentation)
    predicted: int
    precision: float
    recall: float
    f1: float
    iou: float
    dice: float


def _ratio(top: float, bottom: float) -> float:
    return top / bottom if bottom else 0.0


def accuracy(confusion: Matrix) -> float:
    total = sum(map(sum, confusion))
    return _ratio(sum(confusion[i][i] for i in range(len(confusion))), total)


def per_class(confusion: Matrix, names: list[str]) -> list[ClassMetrics]:
    n = len(confusion)
    rows = [sum(r) for r in confusion]
    cols = [sum(confusion[r][c] for r in range(n)) for c in range(n)]
    found = []
    for i in range(n):
        tp = confusion[i][i]
        precision, recall = _ratio(tp, cols[i]), _ratio(tp, rows[i])
        found.append(
            ClassMetrics(
                name=names[i] if i < len(names) else str(i),
                support=rows[i],
                predicted=cols[i],
                precision=precision,
                recall=recall,
                f1=_ratio(2 * precision * recall, precision + recall),
                iou=_ratio(tp, rows[i] + cols[i] - tp),
                dice=_ratio(2 * tp, rows[i] + cols[i]),
            )
        )
    return found


def macro(classes: list[ClassMetrics], field: str) -> float:
    """The mean over classes that occur in truth or prediction: a class absent from both
    says nothing about the model, and counting it as 0 would punish a small test split."""
    present = [c for c in classes if c.support or c.predicted] or classes
    return _ratio(sum(getattr(c, field) for c in present), len(present))


def summary(confusion: Matrix, names: list[str], segmentation: bool) -> dict[str, float]:
    """The headline figures of one split."""
    classes = per_class(confusion, names)
    if segmentation:
        return {
            "accuracy": accuracy(confusion),
            "iou": macro(classes, "iou"),
            "dice": macro(classes, "dice"),
        }
    return {
        "accuracy": accuracy(confusion),
        "precision": macro(classes, "precision"),
        "recall": macro(classes, "recall"),
        "f1": macro(classes, "f1"),
    }
