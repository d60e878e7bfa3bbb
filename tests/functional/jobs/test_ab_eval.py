"""The A/B evaluation on a real Celery worker: two trained revisions of a model evaluated on
one dataset revision, paired per-sample predictions, McNemar's test and a bootstrap interval
recomputed here from the stored predictions; the compare API and `repohub compare` agree with
the stored reports number for number."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from scipy import stats as scipy_stats

from tests.functional.jobs.conftest import Datasets, url
from tests.support.gitcli import Git
from tests.support.jobs import spec_yaml, wait_for
from tests.support.stack import Server, repohub_command

BOOTSTRAP_SEED = 20240611  # the module's documented seed: same predictions, same interval
BOOTSTRAP_ROUNDS = 2000


def _mcnemar(b: int, c: int) -> tuple[float, str]:
    if b + c < 25:
        tail = sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c)
        return min(1.0, 2 * tail), "exact"
    return float(scipy_stats.chi2.sf((abs(b - c) - 1) ** 2 / (b + c), 1)), "chi2"


def _reports(api: httpx.Client, repo: str, commit: str) -> dict[str, dict]:
    found = api.get(f"/api/models/{repo}/reports/{commit}").json()["reports"]
    return {r["kind"]: r["report"] for r in found}


def test_ab_job_pairs_predictions_and_tests_the_difference(
    hub_server: Server,
    api: httpx.Client,
    new_user,
    new_repo,
    git: Git,
    public_datasets: Datasets,
    tmp_path: Path,
) -> None:
    alice = new_user("alice")
    model = new_repo(alice)
    digits = public_datasets.digits
    short = spec_yaml(digits, branches="[main, long]", params={"epochs": 1, "seed": 3})
    long = spec_yaml(digits, branches="[main, long]", params={"epochs": 2, "seed": 3})
    src = git.init_repo(tmp_path / "model", {"repohub.yaml": short, "README.md": "# m\n"})
    base = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    git("checkout", "-q", "-b", "long", cwd=src)
    head = git.commit(src, {"repohub.yaml": long}, "train for two epochs")
    git("push", "-q", url(hub_server, alice, model), "main", "long", cwd=src)

    for commit in (base, head):
        listed = api.get(f"/api/models/{model}/jobs", params={"commit": commit}).json()
        for job in listed:
            done = wait_for(api, job["id"])
            assert done["state"] == "succeeded", api.get(f"/api/jobs/{job['id']}/logs").text

    compare_url = f"/api/models/{model}/compare/main...long"
    evaluate = f"{compare_url}/evaluate"
    assert api.post(evaluate).status_code in (401, 403)
    started = api.post(evaluate, headers=alice.auth)
    assert started.status_code == 201, started.text
    job_id = started.json()["job_id"]
    dataset_commit = _reports(api, model, head)["train"]["dataset"]["commit"]
    assert started.json()["dataset"] == f"{digits}@{dataset_commit}"
    again = api.post(evaluate, headers=alice.auth, json={"dataset": f"{digits}@{dataset_commit}"})
    assert again.status_code == 200 and again.json()["job_id"] == job_id
    job = wait_for(api, job_id)
    assert job["state"] == "succeeded", api.get(f"/api/jobs/{job_id}/logs").text
    assert job["kind"] == "ab" and job["commit"] == head

    report = api.get(f"/api/jobs/{job_id}/report").json()["report"]
    assert api.get(f"/jobs/{job_id}/report").status_code == 200  # the job's own report page
    paired = report["paired"]
    n = len(paired["paths"])
    assert n == report["head"]["metrics"]["test"]["samples"] == 450
    assert len(set(paired["paths"])) == n
    truth = np.array(paired["true"])
    base_right = np.array(paired["base"]) == truth
    head_right = np.array(paired["head"]) == truth
    # the paired predictions are the predictions each side's own evaluation counted
    assert base_right.mean() == pytest.approx(report["base"]["metrics"]["test"]["accuracy"])
    assert head_right.mean() == pytest.approx(report["head"]["metrics"]["test"]["accuracy"])
    assert base_right.mean() == pytest.approx(
        _reports(api, model, base)["eval"]["metrics"]["test"]["accuracy"]
    ), "same weights, same dataset revision, same preprocessing: the same accuracy"

    b = int(np.sum(base_right & ~head_right))
    c = int(np.sum(head_right & ~base_right))
    stats = report["statistics"]
    assert (stats["n"], stats["base_only"], stats["head_only"]) == (n, b, c)
    assert stats["both_right"] == int(np.sum(base_right & head_right))
    assert stats["difference"] == pytest.approx(head_right.mean() - base_right.mean())
    p, method = _mcnemar(b, c)
    assert stats["mcnemar_method"] == method
    assert stats["mcnemar_p"] == pytest.approx(p, rel=1e-9)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    diff = head_right.astype(float) - base_right.astype(float)
    means = diff[rng.integers(0, n, size=(BOOTSTRAP_ROUNDS, n))].mean(axis=1)
    assert stats["ci95"] == pytest.approx(list(np.percentile(means, [2.5, 97.5])))

    data = api.get(compare_url).json()
    assert data["ab"] == {
        "job_id": job_id,
        "state": "succeeded",
        "dataset": f"{digits}@{dataset_commit}",
        "result": stats,
    }
    samples = data["samples"]
    assert samples["comparable"] is True
    assert (samples["fixed_count"], samples["broken_count"]) == (c, b)
    shown = {s["path"] for s in samples["fixed"]}
    fixed = {
        p for p, x, y in zip(paired["paths"], base_right, head_right, strict=True) if y and not x
    }
    assert shown <= fixed and len(shown) == min(c, 100)
    stored = {side: _reports(api, model, sha) for side, sha in (("base", base), ("head", head))}

    def final(side: str, split: str) -> dict:
        """Training's figures with the evaluation's laid over them, as the contract says."""
        reports = stored[side]
        return {
            **reports["train"]["metrics"].get(split, {}),
            **reports["eval"]["metrics"].get(split, {}),
        }

    assert set(data["metrics"]) == {"train", "val", "test"}
    for split, figures in data["metrics"].items():
        for name, row in figures.items():
            assert row["base"] == final("base", split)[name]
            assert row["head"] == final("head", split)[name]
            assert row["delta"] == pytest.approx(row["head"] - row["base"])
    assert (
        data["metrics"]["test"]["accuracy"]["base"]
        == stored["base"]["eval"]["metrics"]["test"]["accuracy"]
    )
    verdicts = {v["metric"]: v for v in data["verdicts"]}
    assert verdicts["loss"]["better"] == "lower" and verdicts["accuracy"]["better"] == "higher"
    assert data["curves"]["epoch"]["base"] == stored["base"]["train"]["curves"]["epoch"]
    assert len(data["curves"]["epoch"]["head"]) == 2
    assert data["confusion"]["head"] == stored["head"]["eval"]["confusion_matrix"]["matrix"]
    assert data["config"]["spec"]["changes"] == [
        {"key": "train.params.epochs", "base": 1, "head": 2}
    ]

    zipped = api.get(f"{compare_url}/samples.zip", params={"set": "all"})
    assert zipped.status_code == 200, zipped.text
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        names = set(archive.namelist())
        rows = list(csv.DictReader(io.StringIO(archive.read("samples.csv").decode())))
    assert len(rows) == b + c
    assert {f"fixed/{p}" for p in fixed} | {"samples.csv"} <= names
    assert sum(1 for n in names if n.startswith("broken/")) == b
    only_fixed = api.get(f"{compare_url}/samples.zip", params={"set": "fixed"})
    with zipfile.ZipFile(io.BytesIO(only_fixed.content)) as archive:
        assert not any(n.startswith("broken/") for n in archive.namelist())
    assert api.get(f"{compare_url}/samples.zip", params={"set": "nope"}).status_code == 400

    cli = subprocess.run(
        [*repohub_command(), "compare", model, "main...long", "--json"],
        env={**os.environ, "REPOHUB_URL": hub_server.url, "REPOHUB_TOKEN": alice.token},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["ab"]["result"] == stats
    text = subprocess.run(
        [*repohub_command(), "compare", model, "main...long", "--url", hub_server.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert text.returncode == 0, text.stderr
    assert f"McNemar p = {stats['mcnemar_p']:.4g}" in text.stdout
