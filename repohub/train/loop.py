"""The training loop: from a materialised dataset and a spec to weights and raw results.

Raw results are losses and confusion matrices per split plus the curves; `repohub.eval`
turns them into the report's metrics. The loop reports progress and metric points through
`Events` as it goes, which is what the job page's live curve shows.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (torch's own idiom)

from repohub.train import env, weights
from repohub.train.data import ImageSet, Normalizer, augmenter, batches, split_indices
from repohub.train.events import Events
from repohub.train.layout import DatasetError, find_layout
from repohub.train.lr import learning_rate
from repohub.train.models import build_model
from repohub.train.predict import (
    SplitResult,
    accuracy,
    confusion_matrix,
    mean_dice,
    mean_iou,
    run_split,
)
from repohub.train.spec import TrainSpec

TEST_FRACTION = 0.2  # segmentation sets without a test/ split hold this much out
MAX_CURVE_POINTS = 1000


@dataclass
class Splits:
    images: ImageSet
    train: list[int]
    val: list[int]
    test_images: ImageSet | None
    test: list[int]
    classes: tuple[str, ...]


def load_splits(spec: TrainSpec, root: Path, events: Events) -> Splits:
    layout = find_layout(root, spec.task, "train.dataset")
    segmentation = spec.task == "image-segmentation"
    pool = ImageSet(root, layout.train, spec.image_size, segmentation)
    pool.preload()
    seed = spec.params.seed
    indices = list(range(len(pool)))
    test_images: ImageSet | None = None
    test: list[int] = []
    if layout.test_from_train:
        indices, test = split_indices(len(pool), TEST_FRACTION, seed + 1)
        test_images = pool
    elif layout.test:
        test_images = ImageSet(root, layout.test, spec.image_size, segmentation)
        test_images.preload()
        test = list(range(len(test_images)))
    kept, held = split_indices(len(indices), spec.preprocess.val_split, seed)
    train, val = [indices[i] for i in kept], [indices[i] for i in held]
    if not train:
        raise DatasetError("train.dataset: no training images left after the splits")
    classes = layout.classes or _mask_classes(pool)
    events.log(
        f"dataset: {len(train)} train, {len(val)} val, {len(test)} test images, "
        f"{len(classes)} classes"
    )
    return Splits(pool, train, val, test_images, test, classes)


def _mask_classes(pool: ImageSet) -> tuple[str, ...]:
    return tuple(str(i) for i in range(pool.num_mask_classes()))


def train(
    spec: TrainSpec, root: Path, out: Path, init: Path | None, events: Events
) -> dict[str, Any]:
    started = time.monotonic()
    device = env.pick_device()
    torch.manual_seed(spec.params.seed)
    splits = load_splits(spec, root, events)
    n = len(splits.classes)
    normalize = (
        Normalizer.fit(splits.images, splits.train)
        if spec.preprocess.normalize
        else (Normalizer.identity())
    )
    model = build_model(spec.model, n).to(device)
    if init is not None:
        tensors, _ = weights.load(init, "train.init")
        skipped = weights.apply(model, tensors, strict=False)
        events.log(
            f"init: started from {init.name}; {len(skipped)} tensors kept their initial values"
        )
    size = sum(p.numel() for p in model.parameters())
    events.log(f"model: {spec.model}, {size:,} parameters, on {device}")
    fit = _Fit(spec, model, splits, normalize, device, events)
    fit.run()
    meta = weights.ModelMeta(
        spec.model, spec.task, splits.classes, spec.image_size, normalize.mean, normalize.std
    )
    weights.save(model, meta, out / "weights.safetensors")
    results = _final_splits(model, splits, normalize, device)
    return {
        "kind": "train",
        "task": spec.task,
        "model": spec.model,
        "classes": list(splits.classes),
        "normalize": {"mean": list(normalize.mean), "std": list(normalize.std)},
        "splits": {name: r.summary() for name, r in results.items()},
        "mistakes": (results.get("test") or results.get("val") or results["train"]).mistakes,
        "predictions": _predictions(results),
        "curves": fit.curves,
        "epochs_run": fit.epochs_run,
        "best_epoch": fit.best_epoch,
        "early_stopped": fit.early_stopped,
        "train_seconds": round(fit.train_seconds, 3),
        "images_per_second": round(fit.images_seen / max(fit.train_seconds, 1e-9), 1),
        "train_cpu_seconds": round(fit.train_cpu_seconds, 3),
        "duration_seconds": round(time.monotonic() - started, 3),
        "environment": env.describe(device),
        "peak_memory_bytes": env.peak_memory_bytes(),
        "model_meta": asdict(meta),
        "weights_file": "weights.safetensors",
    }


def _predictions(results: dict[str, SplitResult]) -> dict[str, Any] | None:
    """The per-sample predictions of the split mistakes come from (test when there is one)."""
    for split in ("test", "val"):
        found = results.get(split)
        if found is not None and found.predictions is not None:
            return {"split": split, **found.predictions}
    return None


def _final_splits(
    model: nn.Module, splits: Splits, normalize: Normalizer, device: torch.device
) -> dict[str, SplitResult]:
    """Train, val and test figures of the final (or best) weights; mistakes from the last
    split evaluated on, test when there is one."""
    n = len(splits.classes)

    def run(images: ImageSet, indices: list[int], collect: bool) -> SplitResult:
        return run_split(
            model, images, indices, normalize, device, n, splits.classes, collect=collect
        )

    results = {"train": run(splits.images, splits.train, False)}
    if splits.val:
        results["val"] = run(splits.images, splits.val, not splits.test)
    if splits.test and splits.test_images is not None:
        results["test"] = run(splits.test_images, splits.test, True)
    return results


class _Fit:
    """One training run's state: optimiser, schedule, curves, early stopping."""

    def __init__(
        self,
        spec: TrainSpec,
        model: nn.Module,
        splits: Splits,
        normalize: Normalizer,
        device: torch.device,
        events: Events,
    ) -> None:
        self.spec, self.model, self.splits = spec, model, splits
        self.normalize, self.device, self.events = normalize, device, events
        p = spec.params
        self.steps_per_epoch = math.ceil(len(splits.train) / p.batch_size)
        self.total_steps = self.steps_per_epoch * p.epochs
        self.every = max(1, self.total_steps // MAX_CURVE_POINTS)
        self.optimizer = _optimizer(spec, model)
        self.transform = augmenter(spec.preprocess.augment, spec.image_size)
        self.generator = torch.Generator().manual_seed(p.seed)
        self.curves: dict[str, list[dict[str, float]]] = {"step": [], "epoch": []}
        self.step = 0
        self.epochs_run = 0
        self.best_epoch = 0
        self.early_stopped = False
        self.train_seconds = 0.0
        self.train_cpu_seconds = 0.0  # all of this process's threads: robust to a busy machine
        self.images_seen = 0
        self._best: tuple[float, dict[str, torch.Tensor]] | None = None
        self._stale = 0

    def run(self) -> None:
        epochs = self.spec.params.epochs
        for epoch in range(1, epochs + 1):
            tick, cpu = time.perf_counter(), time.process_time()  # batching, steps, reporting
            train_values = self._epoch(epoch)
            self.train_seconds += time.perf_counter() - tick
            self.train_cpu_seconds += time.process_time() - cpu
            point = {"epoch": epoch, **train_values, **self._validate()}
            self.curves["epoch"].append(point)
            self.epochs_run = epoch
            self.events.metric(
                "epoch", self.step, epoch, {k: v for k, v in point.items() if k != "epoch"}
            )
            self.events.log(
                f"epoch {epoch}/{epochs}: "
                + ", ".join(f"{k} {v:.4f}" for k, v in point.items() if k != "epoch")
            )
            if self._should_stop(epoch, point):
                self.early_stopped = True
                self.events.log(
                    f"early stopping after epoch {epoch}: best was epoch {self.best_epoch}"
                )
                break
        if self._best is not None:
            self.model.load_state_dict(self._best[1])

    def _epoch(self, epoch: int) -> dict[str, float]:
        self.model.train()
        n = len(self.splits.classes)
        loss_sum, seen = 0.0, 0
        confusion = torch.zeros(n, n, dtype=torch.long)
        p = self.spec.params
        for _, x, y in batches(
            self.splits.images,
            self.splits.train,
            p.batch_size,
            generator=self.generator,
            transform=self.transform,
        ):
            lr = learning_rate(p, self.step, self.total_steps)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            x, y = self.normalize(x.to(self.device)), y.to(self.device)
            logits = self.model(x)
            loss = F.cross_entropy(logits, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.step += 1
            self.images_seen += x.shape[0]
            batch_confusion = confusion_matrix(logits.detach().argmax(1).cpu(), y.cpu(), n)
            confusion += batch_confusion
            loss_value = float(loss.detach())
            loss_sum += loss_value * y.numel()
            seen += y.numel()
            if self.step % self.every == 0 or self.step == self.total_steps:
                values = {"loss": loss_value, "accuracy": accuracy(batch_confusion), "lr": lr}
                self.curves["step"].append({"step": self.step, "epoch": epoch, **values})
                self.events.metric("step", self.step, epoch, values)
            self.events.progress(self.step, self.total_steps, epoch, p.epochs)
        values = {"train_loss": loss_sum / max(seen, 1), "train_accuracy": accuracy(confusion)}
        if self.spec.task == "image-segmentation":
            values["train_iou"] = mean_iou(confusion)
        return values

    def _validate(self) -> dict[str, float]:
        if not self.splits.val:
            return {}
        n = len(self.splits.classes)
        result = run_split(
            self.model,
            self.splits.images,
            self.splits.val,
            self.normalize,
            self.device,
            n,
            self.splits.classes,
        )
        confusion = torch.tensor(result.confusion)
        values = {"val_loss": result.loss, "val_accuracy": accuracy(confusion)}
        if self.spec.task == "image-segmentation":
            values["val_iou"] = mean_iou(confusion)
            values["val_dice"] = mean_dice(confusion)
        return values

    def _should_stop(self, epoch: int, point: dict[str, float]) -> bool:
        rule = self.spec.early_stopping
        if rule is None:
            return False
        value = point[rule.metric]
        score = value if rule.maximize else -value
        if self._best is None or score > self._best[0]:
            state = copy.deepcopy(self.model.state_dict())
            self._best, self.best_epoch, self._stale = (score, state), epoch, 0
            return False
        self._stale += 1
        return self._stale >= rule.patience


def _optimizer(spec: TrainSpec, model: nn.Module) -> torch.optim.Optimizer:
    p = spec.params
    params = model.parameters()
    if p.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=p.base_lr, momentum=p.momentum, weight_decay=p.weight_decay
        )
    if p.optimizer == "adam":
        return torch.optim.Adam(params, lr=p.base_lr, weight_decay=p.weight_decay)
    return torch.optim.AdamW(params, lr=p.base_lr, weight_decay=p.weight_decay)
