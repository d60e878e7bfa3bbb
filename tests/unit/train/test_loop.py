"""A small run end to end: splits, curves, events, weights, and the same weights evaluated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from repohub.train.evaluate import evaluate
from repohub.train.events import Events
from repohub.train.loop import train
from repohub.train.spec import parse_spec
from tests.support.datasets import digits, shapes


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("digits")
    digits(root)
    return root


def _events() -> tuple[Events, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    return Events(seen.append), seen


def test_classification_run(digits_dir: Path, tmp_path: Path) -> None:
    spec = parse_spec(
        {
            "train": {
                "model": "smallcnn",
                "dataset": "a/digits",
                "image_size": 16,
                "params": {"epochs": 2, "batch_size": 128, "base_lr": 0.05, "lr_policy": "cosine"},
                "preprocess": {"val_split": 0.1, "augment": ["random"]},
                "early_stopping": {"metric": "val_loss", "patience": 5},
            }
        }
    ).train
    assert spec is not None
    events, seen = _events()
    result = train(spec, digits_dir, tmp_path, None, events)
    assert result["classes"] == [str(d) for d in range(10)]
    assert set(result["splits"]) == {"train", "val", "test"}
    assert result["splits"]["test"]["samples"] == 450
    assert len(result["curves"]["epoch"]) == 2 == result["epochs_run"]
    assert {"loss", "accuracy", "lr"} <= set(result["curves"]["step"][0])
    assert {e["type"] for e in seen} == {"log", "progress", "metric"}
    assert seen[-1]["type"] in ("log", "metric", "progress")
    assert all("true" in m and "confidence" in m for m in result["mistakes"])
    again = evaluate(None, digits_dir, tmp_path / "weights.safetensors", _events()[0])
    assert again["splits"]["test"]["confusion"] == result["splits"]["test"]["confusion"]


def test_segmentation_run(tmp_path: Path) -> None:
    shapes(tmp_path / "shapes", count=40, size=16)
    spec = parse_spec(
        {
            "train": {
                "task": "image-segmentation",
                "model": "unet",
                "dataset": "a/shapes",
                "image_size": 16,
                "params": {"epochs": 1, "batch_size": 8, "optimizer": "adam", "base_lr": 0.003},
                "preprocess": {"val_split": 0.2, "augment": ["flip", "scale"]},
            }
        }
    ).train
    assert spec is not None
    (tmp_path / "out").mkdir()
    result = train(spec, tmp_path / "shapes", tmp_path / "out", None, _events()[0])
    assert result["classes"] == ["0", "1", "2"]
    assert len(result["splits"]["test"]["confusion"]) == 3
    assert "val_iou" in result["curves"]["epoch"][0]
