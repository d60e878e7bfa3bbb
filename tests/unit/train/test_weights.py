"""Weights are read without running code: safetensors, or `torch.load(weights_only=True)`."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from repohub.train import weights
from repohub.train.nets import SmallCNN
from repohub.train.weights import ModelMeta, WeightsError

META = ModelMeta(
    "smallcnn", "image-classification", ("a", "b"), 16, (0.1, 0.2, 0.3), (1.0, 1.0, 1.0)
)


class Payload:
    """Unpickling this runs `os.system`: what a malicious `.pt` file does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def test_safetensors_round_trip_keeps_the_metadata(tmp_path: Path) -> None:
    model = SmallCNN(2)
    weights.save(model, META, tmp_path / "w.safetensors")
    tensors, meta = weights.load(tmp_path / "w.safetensors", "weights")
    assert meta == META
    fresh = SmallCNN(2)
    assert weights.apply(fresh, tensors, strict=True) == []
    for name, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value)


def test_a_pickle_payload_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "model.pt"
    evil.write_bytes(pickle.dumps({"weight": Payload(marker)}))
    with pytest.raises(WeightsError, match=r"^init: model\.pt is not a plain weights file"):
        weights.load(evil, "init")
    assert not marker.exists()
    zipped = tmp_path / "zipped.pt"
    torch.save({"weight": Payload(marker)}, zipped)
    with pytest.raises(WeightsError, match="weights_only=True"):
        weights.load(zipped, "init")
    assert not marker.exists()


def test_plain_state_dicts_load_and_fit_loosely(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(SmallCNN(5).state_dict(), path)
    tensors, meta = weights.load(path, "init")
    assert meta is None
    skipped = weights.apply(SmallCNN(2), tensors, strict=False)
    assert skipped == ["classifier.2.bias", "classifier.2.weight"], "only the head differs"
    with pytest.raises(WeightsError, match="do not fit"):
        weights.apply(SmallCNN(2), tensors, strict=True)


def test_a_forged_safetensors_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(WeightsError, match="not a valid safetensors file"):
        weights.load(bad, "weights")
