"""Reading and writing weights without ever running code from a file.

Weights from a repo are untrusted bytes: a pickle can run anything when loaded, so only
safetensors files and `torch.load(weights_only=True)` (which refuses every global that is
not a tensor building block) are used. What a trained model needs to be used again (its
architecture, classes, input size, normalisation) travels in the safetensors metadata.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from repohub.errors import Unprocessable

METADATA_KEY = "repohub"


class WeightsError(Unprocessable):
    """A weights file that cannot be read safely, or does not fit the model."""


@dataclass(frozen=True)
class ModelMeta:
    model: str
    task: str
    classes: tuple[str, ...]
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def save(model: nn.Module, meta: ModelMeta, path: Path) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={METADATA_KEY: json.dumps(asdict(meta))})


def load(path: Path, where: str) -> tuple[dict[str, torch.Tensor], ModelMeta | None]:
    """Tensors and, for RepoHub's own safetensors files, the model's metadata."""
    if path.suffix == ".safetensors":
        return _load_safetensors(path, where)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any refusal or corruption is the file's fault, not the worker's
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise WeightsError(
            f"{where}: {path.name} is not a plain weights file; torch.load(weights_only=True) "
            f"refused it, and RepoHub never unpickles anything else ({first})"
        ) from None
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise WeightsError(f"{where}: {path.name} does not hold a state dict of tensors")
    return {str(k): v for k, v in loaded.items()}, None


def _load_safetensors(path: Path, where: str) -> tuple[dict[str, torch.Tensor], ModelMeta | None]:
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(METADATA_KEY)
    except Exception as exc:  # a truncated or forged header
        raise WeightsError(
            f"{where}: {path.name} is not a valid safetensors file ({exc})"
        ) from None
    meta = None
    if raw:
        fields = json.loads(raw)
        meta = ModelMeta(
            model=fields["model"],
            task=fields["task"],
            classes=tuple(fields["classes"]),
            image_size=int(fields["image_size"]),
            mean=tuple(fields["mean"]),  # type: ignore[arg-type]
            std=tuple(fields["std"]),  # type: ignore[arg-type]
        )
    return tensors, meta


def apply(model: nn.Module, tensors: dict[str, torch.Tensor], *, strict: bool) -> list[str]:
    """Copy matching tensors into `model`; return the names left at their initial values.

    Fine-tuning on a dataset with other classes keeps every layer but the head, so a
    non-strict load skips tensors whose shape differs instead of failing.
    """
    own = model.state_dict()
    usable = {k: v for k, v in tensors.items() if k in own and own[k].shape == v.shape}
    skipped = sorted(set(own) - set(usable))
    if strict and skipped:
        raise WeightsError(
            f"the weights do not fit the model: {len(skipped)} tensors missing or of another "
            f"shape (first: {skipped[0]})"
        )
    if not usable:
        raise WeightsError("the weights share no tensor with the model: another architecture?")
    model.load_state_dict(usable, strict=False)
    return skipped
