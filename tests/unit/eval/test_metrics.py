"""Report figures from confusion matrices, checked against hand-computed values."""

from __future__ import annotations

import math

from repohub.eval.metrics import accuracy, macro, per_class, summary
from repohub.eval.report import build_report, compare, headline

# rows: true class, columns: predicted class
CONFUSION = [[5, 1, 0], [2, 3, 0], [0, 0, 0]]


def test_per_class_precision_recall_f1_iou_dice() -> None:
    a, b, c = per_class(CONFUSION, ["a", "b", "c"])
    assert (a.support, a.predicted) == (6, 7)
    assert math.isclose(a.precision, 5 / 7) and math.isclose(a.recall, 5 / 6)
    assert math.isclose(a.f1, 2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6))
    assert math.isclose(a.iou, 5 / (6 + 7 - 5)) and math.isclose(a.dice, 10 / 13)
    assert math.isclose(b.recall, 3 / 5)
    assert (c.support, c.precision, c.recall, c.f1) == (0, 0.0, 0.0, 0.0)


def test_absent_classes_do_not_drag_averages_down() -> None:
    classes = per_class(CONFUSION, ["a", "b", "c"])
    assert math.isclose(macro(classes, "recall"), (5 / 6 + 3 / 5) / 2)
    assert math.isclose(accuracy(CONFUSION), 8 / 11)
    predicted_only = per_class([[1, 1], [0, 0]], ["x", "y"])
    assert macro(predicted_only, "precision") == 0.5, "a class predicted but absent still counts"


def test_segmentation_summary() -> None:
    figures = summary([[90, 10], [0, 100]], ["background", "shape"], segmentation=True)
    assert set(figures) == {"accuracy", "iou", "dice"}
    assert math.isclose(figures["iou"], (90 / 100 + 100 / 110) / 2)


def _raw(kind: str = "train") -> dict:
    return {
        "kind": kind,
        "task": "image-classification",
        "model": "smallcnn",
        "classes": ["a", "b", "c"],
        "splits": {
            "train": {"loss": 0.1, "confusion": [[6, 0, 0], [0, 5, 0], [0, 0, 0]], "samples": 11},
            "test": {"loss": 0.5, "confusion": CONFUSION, "samples": 11},
        },
        "mistakes": [{"path": "test/a/1.png", "true": "a", "predicted": "b", "confidence": 0.7}],
        "curves": {"step": [{"step": 1, "loss": 1.0}], "epoch": []},
        "duration_seconds": 1.5,
    }


def test_report_holds_every_section_and_the_headline_is_the_test_split() -> None:
    report = build_report(_raw(), {"job": {"id": 3}, "duration_seconds": 9.0})
    assert report["metrics"]["test"]["accuracy"] == accuracy(CONFUSION)
    assert report["confusion_matrix"] == {
        "split": "test",
        "labels": ["a", "b", "c"],
        "matrix": CONFUSION,
    }
    assert [c["name"] for c in report["per_class"]] == ["a", "b", "c"]
    assert report["misclassified"][0]["predicted"] == "b"
    assert report["duration_seconds"] == 9.0 and report["run_seconds"] == 1.5
    assert set(headline(report)) == {
        "test_accuracy",
        "test_precision",
        "test_recall",
        "test_f1",
        "test_loss",
    }


def test_eval_metrics_limit_the_report() -> None:
    report = build_report(_raw("eval"), {}, ("accuracy", "f1"))
    assert set(report["metrics"]["test"]) == {"accuracy", "f1", "loss", "samples"}
    assert set(report["per_class"][0]) == {"name", "support", "f1"}
    assert "confusion_matrix" not in report


def test_compare_lists_changes_per_split() -> None:
    base = build_report(_raw(), {})
    better = build_report(
        {**_raw(), "splits": {**_raw()["splits"], "test": _raw()["splits"]["train"]}}, {}
    )
    rows = {(r["split"], r["metric"]): r for r in compare(base, better)}
    assert rows[("test", "accuracy")]["delta"] > 0
    assert rows[("train", "accuracy")]["delta"] == 0
