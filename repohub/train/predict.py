"""Running a model over a split: loss, confusion matrix, and the samples it got wrong.

Final metrics are computed from confusion matrices by `repohub.eval`, so training curves,
the train/val/test figures and an evaluation job's report all count the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (torch's own idiom)

from repohub.train.data import ImageSet, Normalizer, batches

WORST = 50
MAX_PREDICTIONS = 20000  # per-sample predictions kept for a split (fixed/broken samples)


@dataclass
class SplitResult:
    loss: float
    confusion: list[list[int]]
    samples: int
    mistakes: list[dict[str, Any]] = field(default_factory=list)
    predictions: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {"loss": self.loss, "confusion": self.confusion, "samples": self.samples}


def confusion_matrix(predicted: torch.Tensor, truth: torch.Tensor, n: int) -> torch.Tensor:
    flat = truth.reshape(-1) * n + predicted.reshape(-1)
    return torch.bincount(flat, minlength=n * n).reshape(n, n)


def accuracy(confusion: torch.Tensor) -> float:
    total = int(confusion.sum())
    return float(confusion.diag().sum()) / total if total else 0.0


def mean_dice(confusion: torch.Tensor) -> float:
    inter = confusion.diag().double()
    sizes = confusion.sum(0).double() + confusion.sum(1).double()
    present = sizes > 0
    return float((2 * inter[present] / sizes[present]).mean()) if bool(present.any()) else 0.0


def mean_iou(confusion: torch.Tensor) -> float:
    """Mean over the classes present in truth or prediction (the curve's figure)."""
    inter = confusion.diag().double()
    union = confusion.sum(0).double() + confusion.sum(1).double() - inter
    present = union > 0
    return float((inter[present] / union[present]).mean()) if bool(present.any()) else 0.0


@torch.no_grad()
def run_split(
    model: nn.Module,
    images: ImageSet,
    indices: list[int],
    normalize: Normalizer,
    device: torch.device,
    num_classes: int,
    classes: tuple[str, ...],
    batch_size: int = 256,
    collect: bool = False,
) -> SplitResult:
    """Evaluate in eval mode; with `collect`, keep the worst samples for the report and
    (classification) every sample's prediction, so two versions can be paired sample by
    sample on the same data."""
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    loss_sum, count, mistakes = 0.0, 0, []
    paired = Predictions() if collect and not images.segmentation else None
    for chosen, x, y in batches(images, indices, batch_size):
        logits = model(normalize(x.to(device)))
        target = y.to(device)
        loss_sum += float(F.cross_entropy(logits, target, reduction="sum"))
        probs = logits.softmax(dim=1)
        confidence, predicted = probs.max(dim=1)
        confusion += confusion_matrix(predicted.cpu(), y, num_classes)
        count += target.numel()
        if collect:
            mistakes += _mistakes(images, chosen, predicted.cpu(), confidence.cpu(), y, classes)
        if paired is not None:
            paired.add(images, chosen, predicted.cpu(), confidence.cpu(), y)
    mistakes.sort(key=lambda m: m["sort"], reverse=True)
    for m in mistakes:
        m.pop("sort")
    return SplitResult(
        loss_sum / max(count, 1),
        confusion.tolist(),
        len(indices),
        mistakes[:WORST],
        paired.block() if paired is not None else None,
    )


@dataclass
class Predictions:
    """Every sample's prediction, column-wise to stay compact in a JSON report."""

    paths: list[str] = field(default_factory=list)
    true: list[int] = field(default_factory=list)
    predicted: list[int] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    seen: int = 0

    def add(
        self,
        images: ImageSet,
        chosen: list[int],
        predicted: torch.Tensor,
        confidence: torch.Tensor,
        truth: torch.Tensor,
    ) -> None:
        for row, index in enumerate(chosen):
            self.seen += 1
            if len(self.paths) >= MAX_PREDICTIONS:
                continue
            self.paths.append(images.samples[index].image)
            self.true.append(int(truth[row]))
            self.predicted.append(int(predicted[row]))
            self.confidence.append(round(float(confidence[row]), 4))

    def block(self) -> dict[str, Any]:
        return {
            "paths": self.paths,
            "true": self.true,
            "predicted": self.predicted,
            "confidence": self.confidence,
            "count": self.seen,
            "truncated": self.seen > len(self.paths),
        }


def _mistakes(
    images: ImageSet,
    chosen: list[int],
    predicted: torch.Tensor,
    confidence: torch.Tensor,
    truth: torch.Tensor,
    classes: tuple[str, ...],
) -> list[dict[str, Any]]:
    found = []
    for row, index in enumerate(chosen):
        sample = images.samples[index]
        if images.segmentation:
            iou = mean_iou(confusion_matrix(predicted[row], truth[row], len(classes)))
            if iou < 1.0:
                found.append({"path": sample.image, "mask": sample.mask, "iou": iou, "sort": -iou})
        elif int(predicted[row]) != int(truth[row]):
            found.append(
                {
                    "path": sample.image,
                    "true": classes[int(truth[row])],
                    "predicted": classes[int(predicted[row])],
                    "confidence": round(float(confidence[row]), 4),
                    "sort": float(confidence[row]),
                }
            )
    return found
