"""Every spec field is checked, and every refusal names the field at fault."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from repohub.train.spec import SpecError, parse_spec

ISSUE_SPEC = """
on:
  push: {branches: [main, "exp/*"]}
train:
  task: image-classification
  model: resnet18
  pretrained: false
  init: alice/cnn@v1
  dataset: alice/digits@main
  image_size: 32
  params: {epochs: 10, batch_size: 64, optimizer: sgd, base_lr: 0.05, momentum: 0.9,
           weight_decay: 0.0001, lr_policy: poly, power: 0.9, gamma: 0.1, seed: 0}
  preprocess: {val_split: 0.2, normalize: true, augment: [flip, color, scale, random]}
  early_stopping: {metric: val_accuracy, patience: 3}
  resources: {queue: cpu, gpus: 0}
eval:
  dataset: alice/digits@main
  metrics: [accuracy, precision, recall, f1, confusion_matrix]
"""


def _spec(**train: Any) -> dict[str, Any]:
    base = {"task": "image-classification", "model": "smallcnn", "dataset": "a/d"}
    return {"train": {**base, **train}}


def test_the_issue_example_parses() -> None:
    spec = parse_spec(yaml.safe_load(ISSUE_SPEC))
    assert spec.train is not None and spec.eval is not None
    assert spec.train.model == "resnet18"
    assert str(spec.train.init) == "alice/cnn@v1"
    assert spec.train.params.lr_policy == "poly"
    assert spec.train.preprocess.augment == ("flip", "color", "scale", "random")
    assert spec.train.early_stopping is not None and spec.train.early_stopping.maximize
    assert spec.eval.metrics[-1] == "confusion_matrix"
    assert str(spec.eval.dataset) == "alice/digits@main"


def test_defaults_fill_what_is_left_out() -> None:
    spec = parse_spec(_spec())
    assert spec.train is not None
    assert (spec.train.image_size, spec.train.params.epochs, spec.train.resources.queue) == (
        32,
        10,
        "cpu",
    )
    assert spec.eval is None


@pytest.mark.parametrize(
    ("train", "field", "words"),
    [
        ({"model": "resnet1800"}, "train.model", "not one of"),
        ({"task": "detection"}, "train.task", "not one of"),
        ({"pretrained": True}, "train.pretrained", "internet"),
        ({"dataset": "not a repo"}, "train.dataset", "owner/name"),
        ({"dataset": None}, "train.dataset", "required"),
        ({"init": "x"}, "train.init", "owner/name"),
        ({"image_size": "big"}, "train.image_size", "whole number"),
        ({"image_size": 4}, "train.image_size", "between"),
        ({"model": "alexnet", "image_size": 32}, "train.image_size", "alexnet needs"),
        ({"params": {"epochs": 0}}, "train.params.epochs", "between"),
        ({"params": {"base_lr": "fast"}}, "train.params.base_lr", "number"),
        ({"params": {"base_lr": 0}}, "train.params.base_lr", "above 0"),
        ({"params": {"optimizer": "lbfgs"}}, "train.params.optimizer", "not one of"),
        ({"params": {"lr_policy": "step"}}, "train.params.step_size", "required"),
        ({"params": {"lr_policy": "sigmoid"}}, "train.params.lr_policy", "not one of"),
        ({"params": {"momentum": 1.5}}, "train.params.momentum", "at most"),
        ({"params": {"learning_rate": 0.1}}, "train.params.learning_rate", "unknown field"),
        ({"params": [1, 2]}, "train.params", "mapping"),
        ({"preprocess": {"val_split": 0.95}}, "train.preprocess.val_split", "at most"),
        ({"preprocess": {"normalize": "yes"}}, "train.preprocess.normalize", "true or false"),
        ({"preprocess": {"augment": ["rotate"]}}, "train.preprocess.augment", "'rotate'"),
        ({"early_stopping": {"metric": "f1"}}, "train.early_stopping.metric", "not one of"),
        (
            {"early_stopping": {"metric": "val_loss"}, "preprocess": {"val_split": 0}},
            "train.early_stopping",
            "validation split",
        ),
        ({"resources": {"queue": "tpu"}}, "train.resources.queue", "not one of"),
        ({"resources": {"gpus": 1}}, "train.resources.gpus", "queue: gpu"),
        ({"resources": {"memory_mb": 10}}, "train.resources.memory_mb", "between"),
        ({"colour": "red"}, "train.colour", "unknown field"),
    ],
)
def test_a_bad_field_is_named(train: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(_spec(**train))
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")
    assert words in caught.value.message


def test_segmentation_takes_unet_and_its_metrics() -> None:
    spec = parse_spec(
        {
            "train": {"task": "image-segmentation", "model": "unet", "dataset": "a/s"},
            "eval": {"metrics": ["iou", "dice"]},
        }
    )
    assert spec.eval is not None and spec.eval.metrics == ("iou", "dice")
    with pytest.raises(SpecError, match=r"^eval\.metrics: 'f1' does not apply"):
        parse_spec({**_spec(task="image-segmentation", model="unet"), "eval": {"metrics": ["f1"]}})
    with pytest.raises(SpecError, match=r"^train\.model: 'smallcnn' is not one of: unet"):
        parse_spec(_spec(task="image-segmentation"))
    with pytest.raises(SpecError, match=r"^train\.image_size: unet needs a multiple of 8"):
        parse_spec(_spec(task="image-segmentation", model="unet", image_size=30))


def test_eval_only_specs_need_a_dataset() -> None:
    assert parse_spec({"eval": {"dataset": "a/d"}}).train is None
    with pytest.raises(SpecError, match=r"^eval\.dataset: is required"):
        parse_spec({"eval": {"metrics": ["accuracy"]}})
    with pytest.raises(SpecError, match="neither a train nor an eval block"):
        parse_spec({"on": {"push": {"branches": ["main"]}}})


def test_yaml_reads_on_as_true_and_the_spec_still_parses() -> None:
    raw = yaml.safe_load("on: {push: {branches: [main]}}\neval: {dataset: a/b}\n")
    assert True in raw
    assert parse_spec(raw).eval is not None
