"""What the jobs layer reads from `repohub.yaml`: triggers, the work's hash, the queue."""

from __future__ import annotations

import pytest

from repohub.jobs import spec as specs

SPEC = b"""
on:
  push: {branches: [main, "exp/*", "release/**"]}
train: {model: smallcnn, dataset: a/d, resources: {queue: gpu, gpus: 1}}
"""


def test_on_is_read_back_from_yaml_booleans() -> None:
    loaded = specs.load(SPEC)
    assert specs.push_patterns(loaded) == ["main", "exp/*", "release/**"]


@pytest.mark.parametrize(
    ("branch", "runs"),
    [("main", True), ("exp/a", True), ("exp/a/b", False), ("release/1/2", True), ("dev", False)],
)
def test_branch_globs_follow_github(branch: str, runs: bool) -> None:
    assert specs.branch_matches(branch, specs.push_patterns(specs.load(SPEC))) is runs


def test_the_hash_names_the_work_not_the_trigger() -> None:
    loaded = specs.load(SPEC)
    same = {**loaded, "on": {"push": {"branches": ["other"]}}}
    assert specs.spec_hash(loaded) == specs.spec_hash(same)
    tweaked = specs.merge(loaded, {"train": {"params": {"epochs": 1}}})
    assert specs.spec_hash(tweaked) != specs.spec_hash(loaded)
    assert tweaked["train"]["model"] == "smallcnn", "overrides merge into mappings"


def test_queue_falls_back_to_cpu_for_validation_to_refuse() -> None:
    assert specs.queue_of(specs.load(SPEC)) == "gpu"
    assert specs.queue_of({"train": {"resources": {"queue": "tpu"}}}) == "cpu"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"train: [unclosed", "not valid YAML"),
        (b"- a list", "must be a mapping"),
        (b"on: {push: {branches: 3}}", "on.push.branches"),
        (b"on: push", "on: must look like"),
    ],
)
def test_unusable_files_say_why(text: bytes, words: str) -> None:
    with pytest.raises(specs.InvalidSpec, match=words):
        specs.push_patterns(specs.load(text))
