"""A push trains the model its `repohub.yaml` describes, on a real Celery worker, and the
report lands on the commit: the issue's "done when", on both storage configurations."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import yaml

from repohub.repos.context import Hub
from tests.functional.jobs.conftest import Datasets, url
from tests.support import datasets
from tests.support.gitcli import Git
from tests.support.jobs import push_tree, spec_yaml, wait_for
from tests.support.stack import Server

TWO_MINUTES = 120.0


def _jobs_of(api: httpx.Client, repo: str, commit: str) -> dict[str, dict]:
    listed = api.get(f"/api/models/{repo}/jobs", params={"commit": commit}).json()
    return {job["kind"]: job for job in listed}


def test_push_trains_smallcnn_on_digits_and_reports_on_the_commit(
    hub_server: Server,
    api: httpx.Client,
    jobs_hub: Hub,
    new_user,
    new_repo,
    git: Git,
    public_datasets: Datasets,
    tmp_path: Path,
) -> None:
    alice = new_user("alice")
    model = new_repo(alice)
    spec = spec_yaml(public_datasets.digits, params={"epochs": 5, "seed": 1})
    src = git.init_repo(tmp_path / "model", {"repohub.yaml": spec, "README.md": "# digits\n"})
    pushed = git("push", url(hub_server, alice, model), "main", cwd=src)
    commit = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    assert f"main {commit[:12]}: queued train job" in pushed.stderr

    jobs = _jobs_of(api, model, commit)
    assert jobs["eval"]["dependsOn"] == jobs["train"]["id"]
    train = wait_for(api, jobs["train"]["id"], timeout=TWO_MINUTES)
    logs = api.get(f"/api/jobs/{train['id']}/logs").text
    assert train["state"] == "succeeded", logs
    assert "epoch 5/5" in logs
    assert train["progress"]["step"] == train["progress"]["total_steps"]
    assert len(train["metrics"]["epoch"]) == 5 and train["metrics"]["step"]
    evaluation = wait_for(api, jobs["eval"]["id"], timeout=TWO_MINUTES)
    assert evaluation["state"] == "succeeded", api.get(f"/api/jobs/{evaluation['id']}/logs").text

    reports = api.get(f"/api/models/{model}/reports/{commit}").json()["reports"]
    by_kind = {r["kind"]: r for r in reports}
    report = by_kind["train"]["report"]
    assert report["metrics"]["test"]["accuracy"] >= 0.95, report["metrics"]
    assert set(report["metrics"]) == {"train", "val", "test"}
    assert report["dataset"]["repo"] == public_datasets.digits
    assert len(report["dataset"]["commit"]) == 40
    assert report["hyperparameters"]["params"]["epochs"] == 5
    assert (
        report["environment"]["torch"].startswith("2.") and report["environment"]["device"] == "cpu"
    )
    assert report["peak_memory_bytes"] > 0 and report["duration_seconds"] > 0
    assert len(report["per_class"]) == 10 and {"precision", "recall", "f1"} <= set(
        report["per_class"][0]
    )
    assert len(report["confusion_matrix"]["matrix"]) == 10
    for sample in report["misclassified"]:
        assert sample["true"] != sample["predicted"] and 0 < sample["confidence"] <= 1
    assert len(report["curves"]["epoch"]) == 5
    assert by_kind["eval"]["report"]["metrics"]["test"]["accuracy"] >= 0.95
    assert by_kind["eval"]["headline"]["test_accuracy"] >= 0.95
    assert api.get(f"/api/models/{model}/reports/main").json()["commit"] == commit

    weights = by_kind["train"]["weights"]
    downloaded = api.get(f"/api/jobs/{train['id']}/weights")
    assert hashlib.sha256(downloaded.content).hexdigest() == weights["oid"]
    _publish_and_clone(hub_server, api, git, alice, model, train["id"], weights, tmp_path)


def _publish_and_clone(
    server: Server,
    api: httpx.Client,
    git: Git,
    alice,
    model: str,
    job_id: int,
    weights,
    tmp_path: Path,
) -> None:
    """Publish commits the LFS pointer and the metrics block, as alice, to a new branch."""
    published = api.post(
        f"/api/jobs/{job_id}/publish", json={"branch": "trained"}, headers=alice.auth
    )
    assert published.status_code == 200, published.text
    clone = tmp_path / "clone"
    git("clone", "-q", "-b", "trained", url(server, alice, model), str(clone))
    data = (clone / "model.safetensors").read_bytes()
    assert hashlib.sha256(data).hexdigest() == weights["oid"], "git lfs fetched the artifact"
    assert git("log", "-1", "--format=%an %s", cwd=clone).stdout.startswith(alice.name)
    card = (clone / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["metrics"]["test_accuracy"] >= 0.95 and front["metrics"]["job"] == job_id
    assert card.rstrip().endswith("# digits"), "the card's body is kept"
    assert "*.safetensors filter=lfs" in (clone / ".gitattributes").read_text()
    refused = api.post(f"/api/jobs/{job_id}/publish", json={"branch": "x"}, headers={})
    assert refused.status_code in (401, 403)


def test_segmentation_unet_on_shapes_reaches_iou(
    hub_server: Server,
    api: httpx.Client,
    new_user,
    new_repo,
    git: Git,
    tmp_path: Path,
) -> None:
    """Images and masks pushed as Git LFS objects; the report carries IoU and Dice."""
    alice = new_user("alice")
    dataset = new_repo(alice, "dataset")
    datasets.shapes(tmp_path / "shapes", count=200, size=32)
    push_tree(
        git,
        tmp_path / "shapes",
        tmp_path / "shapes-repo",
        url(hub_server, alice, f"datasets/{dataset}"),
        lfs=("*.png",),
    )
    spec = {
        "on": {"push": {"branches": ["main"]}},
        "train": {
            "task": "image-segmentation",
            "model": "unet",
            "dataset": dataset,
            "image_size": 32,
            "params": {"epochs": 14, "batch_size": 16, "optimizer": "adam", "base_lr": 0.01},
            "preprocess": {"val_split": 0.1, "augment": ["flip"]},
        },
        "eval": {"metrics": ["iou", "dice", "confusion_matrix"]},
    }
    model = new_repo(alice)
    src = git.init_repo(tmp_path / "model", {"repohub.yaml": json.dumps(spec)})
    git("push", url(hub_server, alice, model), "main", cwd=src)
    commit = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    jobs = _jobs_of(api, model, commit)
    for kind in ("train", "eval"):
        job = wait_for(api, jobs[kind]["id"])
        assert job["state"] == "succeeded", api.get(f"/api/jobs/{job['id']}/logs").text
    reports = {
        r["kind"]: r["report"]
        for r in api.get(f"/api/models/{model}/reports/{commit}").json()["reports"]
    }
    test = reports["train"]["metrics"]["test"]
    assert test["iou"] >= 0.8, test
    assert {"iou", "dice"} <= set(reports["train"]["per_class"][1])
    assert reports["eval"]["metrics"]["test"]["iou"] >= 0.8
    assert set(reports["eval"]["per_class"][0]) == {"name", "support", "iou", "dice"}
