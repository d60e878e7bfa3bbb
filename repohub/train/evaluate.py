"""Evaluating stored weights on a dataset's test split: the eval job's run.

The architecture, classes and normalisation come from the weights' own metadata when RepoHub
trained them; other weights (a `.pt` state dict) need the spec's train block to say what they
are, and are evaluated without normalisation.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from repohub.train import env, weights
from repohub.train.data import ImageSet, Normalizer, split_indices
from repohub.train.events import Events
from repohub.train.layout import DatasetError, find_layout
from repohub.train.loop import TEST_FRACTION
from repohub.train.models import build_model
from repohub.train.predict import run_split
from repohub.train.spec import TrainSpec
from repohub.train.weights import ModelMeta, WeightsError


def evaluate(
    train: TrainSpec | None, root: Path, weights_path: Path, events: Events
) -> dict[str, Any]:
    started = time.monotonic()
    device = env.pick_device()
    tensors, meta = weights.load(weights_path, "weights")
    task = meta.task if meta else _need(train).task
    size = meta.image_size if meta else _need(train).image_size
    layout = find_layout(root, task, "eval.dataset")
    segmentation = task == "image-segmentation"
    if layout.test_from_train:
        images = ImageSet(root, layout.train, size, segmentation)
        seed = train.params.seed if train else 0
        _, test = split_indices(len(images), TEST_FRACTION, seed + 1)
    elif layout.test:
        images = ImageSet(root, layout.test, size, segmentation)
        test = list(range(len(images)))
    else:
        raise DatasetError("eval.dataset: no test/ split to evaluate on")
    images.preload()
    meta = meta or _meta_for(_need(train), layout.classes or _mask_classes(images))
    if layout.classes and tuple(layout.classes) != meta.classes:
        raise DatasetError(
            f"eval.dataset: its classes ({', '.join(layout.classes[:10])}) are not the model's "
            f"({', '.join(meta.classes[:10])})"
        )
    model = build_model(meta.model, meta.num_classes).to(device)
    weights.apply(model, tensors, strict=True)
    events.log(f"evaluating {meta.model} on {len(test)} test images, on {device}")
    normalize = Normalizer(meta.mean, meta.std)
    result = run_split(
        model, images, test, normalize, device, meta.num_classes, meta.classes, collect=True
    )
    events.progress(1, 1, 1, 1)
    return {
        "kind": "eval",
        "task": task,
        "model": meta.model,
        "classes": list(meta.classes),
        "normalize": {"mean": list(meta.mean), "std": list(meta.std)},
        "splits": {"test": result.summary()},
        "mistakes": result.mistakes,
        "predictions": _predictions(result.predictions, "test"),
        "curves": {"step": [], "epoch": []},
        "duration_seconds": round(time.monotonic() - started, 3),
        "environment": env.describe(device),
        "peak_memory_bytes": env.peak_memory_bytes(),
        "model_meta": asdict(meta),
    }


def _predictions(block: dict[str, Any] | None, split: str) -> dict[str, Any] | None:
    return {"split": split, **block} if block is not None else None


def _need(train: TrainSpec | None) -> TrainSpec:
    if train is None:
        raise WeightsError(
            "weights: they carry no RepoHub metadata, so the spec needs a train block naming "
            "the task, model and image_size"
        )
    return train


def _mask_classes(images: ImageSet) -> tuple[str, ...]:
    return tuple(str(i) for i in range(images.num_mask_classes()))


def _meta_for(train: TrainSpec, classes: tuple[str, ...]) -> ModelMeta:
    identity = Normalizer.identity()
    return ModelMeta(
        train.model, train.task, classes, train.image_size, identity.mean, identity.std
    )
