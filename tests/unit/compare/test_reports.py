"""Report comparison: metric directions, verdicts, per-class deltas, confusion differences,
dataset mismatches, fixed/broken samples, and configuration key changes."""

from __future__ import annotations

import pytest

from repohub.compare.config import flatten, key_changes
from repohub.compare.reports import (
    Reports,
    confusion,
    dataset_mismatch,
    direction,
    judge,
    metrics,
    per_class,
    report_pairs,
    samples,
    verdicts,
)


@pytest.mark.parametrize(
    ("metric", "better"),
    [
        ("loss", "lower"),
        ("val_loss", "lower"),
        ("error", "lower"),
        ("accuracy", "higher"),
        ("precision", "higher"),
        ("recall", "higher"),
        ("f1", "higher"),
        ("iou", "higher"),
        ("dice", "higher"),
        ("samples", None),
    ],
)
def test_directions(metric: str, better: str | None) -> None:
    assert direction(metric) == better


def test_verdicts_follow_the_direction() -> None:
    assert judge("loss", 0.5, 0.3)["verdict"] == "better"
    assert judge("loss", 0.3, 0.5)["verdict"] == "worse"
    assert judge("accuracy", 0.9, 0.8)["verdict"] == "worse"
    assert judge("accuracy", 0.8, 0.8)["verdict"] == "unchanged"
    row = judge("f1", 0.5, 0.75)
    assert row == {
        "base": 0.5,
        "head": 0.75,
        "delta": 0.25,
        "better": "higher",
        "verdict": "better",
    }


def _report(acc: float, loss: float, matrix: list[list[int]], dataset: str) -> dict:
    return {
        "metrics": {"test": {"accuracy": acc, "loss": loss, "samples": 4}},
        "per_class": [
            {"name": "a", "support": 2, "precision": acc, "recall": 1.0, "f1": 0.5},
            {"name": "b", "support": 2, "precision": 0.5, "recall": acc, "f1": 0.25},
        ],
        "confusion_matrix": {"split": "test", "labels": ["a", "b"], "matrix": matrix},
        "dataset": {"repo": "o/d", "commit": dataset * 40},
        "classes": ["a", "b"],
        "predictions": {
            "split": "test",
            "paths": ["1.png", "2.png", "3.png", "4.png"],
            "true": [0, 0, 1, 1],
            "predicted": [0, 1, 1, 0] if acc < 0.6 else [0, 0, 1, 0],
            "confidence": [0.9, 0.8, 0.7, 0.6],
        },
    }


def test_metrics_per_class_confusion_and_samples() -> None:
    base = Reports(None, _report(0.5, 0.9, [[1, 1], [1, 1]], "a"))
    head = Reports(None, _report(0.75, 0.4, [[2, 0], [1, 1]], "a"))
    figures = metrics(base, head)
    assert set(figures["test"]) == {"accuracy", "loss"}
    assert [(v["metric"], v["verdict"]) for v in verdicts(figures)] == [
        ("accuracy", "better"),
        ("loss", "better"),
    ]
    rows = {r["name"]: r for r in per_class(base, head)}
    assert rows["a"]["delta"] == {"precision": 0.25, "recall": 0.0, "f1": 0.0}
    assert rows["b"]["base"]["support"] == 2
    assert confusion(base, head)["difference"] == [[1, -1], [0, 0]]
    assert dataset_mismatch(base, head) is None
    pairs, dataset, reason = report_pairs(base, head)
    assert reason is None and dataset == f"o/d@{'a' * 40}"
    found = samples(pairs, dataset, ["a", "b"], None)
    assert [s["path"] for s in found["fixed"]] == ["2.png"]
    assert found["broken"] == []
    assert found["fixed"][0]["base"] == {"predicted": "b", "confidence": 0.8}


def test_different_dataset_revisions_are_flagged_and_not_paired() -> None:
    base = Reports(None, _report(0.5, 0.9, [[1, 1], [1, 1]], "a"))
    head = Reports(None, _report(0.75, 0.4, [[2, 0], [1, 1]], "b"))
    mismatch = dataset_mismatch(base, head)
    assert mismatch is not None and "different revisions" in mismatch["message"]
    assert "o/d@aaaaaaa" in mismatch["message"] and "o/d@bbbbbbb" in mismatch["message"]
    pairs, _, reason = report_pairs(base, head)
    assert pairs is None and reason is not None and "different data" in reason
    assert samples(pairs, None, [], reason)["comparable"] is False


def test_configuration_changes_key_by_key() -> None:
    assert flatten({"train": {"params": {"epochs": 1}}, True: {"push": 1}}) == {
        "train.params.epochs": 1,
        "on.push": 1,
    }
    old = {"train": {"params": {"epochs": 1, "lr": 0.1}, "model": "smallcnn"}}
    new = {"train": {"params": {"epochs": 10}, "model": "smallcnn"}, "eval": {"dataset": "d"}}
    assert key_changes(old, new) == [
        {"key": "eval.dataset", "base": None, "head": "d"},
        {"key": "train.params.epochs", "base": 1, "head": 10},
        {"key": "train.params.lr", "base": 0.1, "head": None},
    ]
