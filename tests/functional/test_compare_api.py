"""`GET /api/models/{owner}/{name}/compare/{base}...{head}` on a live server: revisions of
every kind (branch, tag, short sha, `fork_owner:branch`), access to forks, bad input, changed
files with text hunks, LFS objects and a tensor-level diff of `.safetensors`, and report
figures that agree with the stored reports number for number."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from safetensors.numpy import save

from repohub.db.jobs import Job, Report
from repohub.db.models import Collaborator
from repohub.eval.report import build_report
from repohub.repos.context import Hub
from repohub.repos.service import RepoKey, find_repo
from tests.conftest import User
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server, repohub_command

SPEC_MAIN = "train:\n  model: smallcnn\n  dataset: alice/digits\n  params: {epochs: 1}\n"
SPEC_DEV = "train:\n  model: smallcnn\n  dataset: alice/digits\n  params: {epochs: 10}\n"
CARD_MAIN = "---\nlicense: mit\ntags: [vision]\n---\n# Model\n"
CARD_DEV = "---\nlicense: apache-2.0\ntags: [vision]\n---\n# Model\n"


def _weights(tensors: dict[str, np.ndarray]) -> bytes:
    return save(tensors)


WEIGHTS_MAIN = _weights(
    {
        "conv.weight": np.zeros((8, 3, 3, 3), np.float32),
        "fc.weight": np.zeros((10, 32), np.float32),
        "old.bias": np.zeros((4,), np.float32),
    }
)
WEIGHTS_DEV = _weights(
    {
        "conv.weight": np.zeros((16, 3, 3, 3), np.float32),
        "fc.weight": np.zeros((10, 32), np.float16),
        "new.bias": np.zeros((6,), np.float32),
    }
)


def _compare(api: httpx.Client, repo: str, spec: str, user: User | None = None) -> httpx.Response:
    return api.get(f"/api/models/{repo}/compare/{spec}", headers=user.auth if user else None)


def _push_two_branches(git: Git, work: Path, url: str) -> tuple[str, str]:
    git("lfs", "install", "--skip-repo")
    work.mkdir()
    git("init", "-q", "-b", "main", str(work))
    git("lfs", "track", "*.safetensors", cwd=work)
    files: dict[str, str | bytes] = {
        "repohub.yaml": SPEC_MAIN,
        "README.md": CARD_MAIN,
        "notes.txt": "one\ntwo\nthree\n",
        "gone.txt": "bye\n",
        "model.safetensors": WEIGHTS_MAIN,
        "blob.bin": bytes(range(256)) * 4,
    }
    main = git.commit(work, files, "first version")
    git("tag", "v1", cwd=work)
    git("checkout", "-q", "-b", "dev", cwd=work)
    (work / "gone.txt").unlink()
    dev = git.commit(
        work,
        {
            "repohub.yaml": SPEC_DEV,
            "README.md": CARD_DEV,
            "notes.txt": "one\nTWO\nthree\n",
            "added.txt": "new file\n",
            "model.safetensors": WEIGHTS_DEV,
            "blob.bin": bytes(range(256)) * 5,
        },
        "train longer",
    )
    git("push", "-q", url, "main", "dev", "v1", cwd=work, timeout=300)
    return main, dev


@pytest.fixture
def pushed(
    server: Server, make_user: Callable[..., User], make_repo, git: Git, tmp_path: Path
) -> dict[str, Any]:
    alice = make_user("alice")
    repo = make_repo(alice)
    main, dev = _push_two_branches(git, tmp_path / "work", remote(server, repo, alice))
    return {"alice": alice, "repo": repo, "main": main, "dev": dev, "work": tmp_path / "work"}


def test_branches_tags_and_shas_resolve(api: httpx.Client, pushed: dict[str, Any]) -> None:
    repo, main, dev = pushed["repo"], pushed["main"], pushed["dev"]
    r = _compare(api, repo, "main...dev")
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["repo"] == repo and data["repo_type"] == "model"
    assert data["base"] == {"spec": "main", "repo": repo, "ref": "refs/heads/main", "sha": main}
    assert data["head"]["sha"] == dev and data["head"]["ref"] == "refs/heads/dev"
    assert (data["merge_base"], data["ahead_by"], data["behind_by"]) == (main, 1, 0)
    assert [c["sha"] for c in data["commits"]] == [dev]
    assert data["commits"][0]["title"] == "train longer"
    assert data["commits"][0]["author"] == "Test Author"

    reverse = _compare(api, repo, f"{dev[:9]}...v1").json()
    assert reverse["base"]["ref"] is None and reverse["base"]["sha"] == dev
    assert reverse["head"]["ref"] == "refs/tags/v1" and reverse["head"]["sha"] == main
    assert (reverse["ahead_by"], reverse["behind_by"], reverse["commits"]) == (0, 1, [])


def test_changed_files_text_lfs_binary_and_safetensors(
    api: httpx.Client, pushed: dict[str, Any]
) -> None:
    data = _compare(api, pushed["repo"], "main...dev").json()
    files = {f["path"]: f for f in data["files"]["changed"]}
    assert data["files"]["truncated"] is False
    assert set(files) == {
        "repohub.yaml",
        "README.md",
        "notes.txt",
        "gone.txt",
        "added.txt",
        "model.safetensors",
        "blob.bin",
    }
    assert files["gone.txt"]["status"] == "removed" and files["gone.txt"]["new"] is None
    assert files["added.txt"]["status"] == "added" and files["added.txt"]["old"] is None
    notes = files["notes.txt"]
    assert (notes["status"], notes["kind"], notes["added"], notes["removed"]) == (
        "modified",
        "text",
        1,
        1,
    )
    changed = [(h["kind"], h["old"], h["new"], h["text"]) for h in notes["hunks"]]
    assert ("-", 2, None, "two") in changed and ("+", None, 2, "TWO") in changed
    assert (" ", 1, 1, "one") in changed

    weights = files["model.safetensors"]
    assert weights["kind"] == "lfs"
    assert weights["old"]["size"] == len(WEIGHTS_MAIN)
    assert weights["old"]["sha256"] == hashlib.sha256(WEIGHTS_MAIN).hexdigest()
    assert weights["new"]["size"] == len(WEIGHTS_DEV)
    assert weights["new"]["sha256"] == hashlib.sha256(WEIGHTS_DEV).hexdigest()
    tensors = weights["safetensors"]
    assert tensors["added"] == [{"name": "new.bias", "dtype": "F32", "shape": [6]}]
    assert tensors["removed"] == [{"name": "old.bias", "dtype": "F32", "shape": [4]}]
    assert tensors["reshaped"] == [
        {"name": "conv.weight", "old_shape": [8, 3, 3, 3], "new_shape": [16, 3, 3, 3]}
    ]
    assert tensors["retyped"] == [{"name": "fc.weight", "old_dtype": "F32", "new_dtype": "F16"}]
    assert tensors["params_before"] == 8 * 27 + 320 + 4
    assert tensors["params_after"] == 16 * 27 + 320 + 6

    blob = files["blob.bin"]
    assert blob["kind"] == "binary" and (blob["old"]["size"], blob["new"]["size"]) == (1024, 1280)

    spec = data["config"]["spec"]
    assert spec["changes"] == [{"key": "train.params.epochs", "base": 1, "head": 10}]
    assert "-  params: {epochs: 1}" in spec["diff"] and "+  params: {epochs: 10}" in spec["diff"]
    assert data["config"]["card"]["changes"] == [
        {"key": "license", "base": "mit", "head": "apache-2.0"}
    ]


def test_fork_branches_and_unrelated_repos(
    api: httpx.Client, server: Server, make_user, make_repo, git: Git, pushed: dict[str, Any]
) -> None:
    repo, work = pushed["repo"], pushed["work"]
    bob, carol = make_user("bob"), make_user("carol")
    name = repo.split("/", 1)[1]
    forked = api.post(f"/api/models/{repo}/fork", headers=bob.auth)
    assert forked.status_code == 200, forked.text
    git("checkout", "-q", "-b", "feature", "main", cwd=work)
    feature = git.commit(work, {"notes.txt": "bob was here\n"}, "bob's change")
    git("push", "-q", remote(server, f"{bob.name}/{name}", bob), "feature", cwd=work)

    data = _compare(api, repo, f"main...{bob.name}:feature").json()
    assert data["head"] == {
        "spec": f"{bob.name}:feature",
        "repo": f"{bob.name}/{name}",
        "ref": "refs/heads/feature",
        "sha": feature,
    }
    assert (data["ahead_by"], data["merge_base"]) == (1, pushed["main"])
    on_fork = _compare(api, f"{bob.name}/{name}", f"{pushed['alice'].name}:dev...feature")
    assert on_fork.status_code == 200 and on_fork.json()["base"]["sha"] == pushed["dev"]
    diverged = on_fork.json()  # dev and feature both branched from main
    assert (diverged["ahead_by"], diverged["behind_by"]) == (1, 1)
    assert diverged["merge_base"] == pushed["main"]
    assert [c["sha"] for c in diverged["commits"]] == [feature]

    # carol's repo of the same name has a history of its own
    r = api.post("/api/repos/create", json={"name": name, "empty": False}, headers=carol.auth)
    assert r.status_code == 200, r.text
    unrelated = _compare(api, repo, f"main...{carol.name}:main")
    assert unrelated.status_code == 422, unrelated.text
    assert "not in the fork network" in unrelated.json()["error"]
    nobody = _compare(api, repo, "main...nobody-at-all:main")
    assert nobody.status_code == 404
    assert nobody.headers["X-Error-Code"] == "RevisionNotFound"


def test_private_fork_never_reveals_its_refs(
    api: httpx.Client,
    hub: Hub,
    server: Server,
    make_user,
    make_repo,
    git: Git,
    tmp_path: Path,
) -> None:
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    repo = make_repo(alice, private=True)
    work = tmp_path / "private"
    main, _ = _push_two_branches(git, work, remote(server, repo, alice))
    with hub.sessions.begin() as session:
        row = find_repo(session, RepoKey("model", *repo.split("/")))
        assert row is not None
        from repohub.auth.accounts import get_account

        bob_id = get_account(session, bob.name).id
        session.add(Collaborator(repo_id=row.id, user_id=bob_id, role="read"))
    name = repo.split("/", 1)[1]
    assert api.post(f"/api/models/{repo}/fork", headers=bob.auth).status_code == 200
    git("checkout", "-q", "-b", "secret", "main", cwd=work)
    git.commit(work, {"secret.txt": "bob's secret\n"}, "secret work")
    git("push", "-q", remote(server, f"{bob.name}/{name}", bob), "secret", cwd=work)

    assert _compare(api, repo, f"main...{bob.name}:secret", bob).status_code == 200
    hidden = _compare(api, repo, f"main...{bob.name}:secret", alice)
    missing = _compare(api, repo, f"main...{bob.name}:no-such-branch", alice)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["X-Error-Code"] == missing.headers["X-Error-Code"] == "RevisionNotFound"
    assert bob.name not in hidden.text.replace(f"{bob.name}:secret", "")
    for who in (carol, None):
        r = _compare(api, repo, "main...dev", who)
        assert r.status_code == 404 and r.headers["X-Error-Code"] == "RepoNotFound"
    assert _compare(api, repo, "main...dev", alice).json()["base"]["sha"] == main


def test_bad_revisions_and_ranges(api: httpx.Client, pushed: dict[str, Any]) -> None:
    repo = pushed["repo"]
    for spec in ("main...nope", "nope...main", "main...deadbeef00", "main...refs/heads/x"):
        r = _compare(api, repo, spec)
        assert r.status_code == 404, (spec, r.text)
        assert r.headers["X-Error-Code"] == "RevisionNotFound"
    assert _compare(api, repo, "main").status_code == 400
    assert _compare(api, repo, "...main").status_code == 400
    r = api.get(f"/api/models/{repo}/compare/main...dev/samples.zip")
    assert r.status_code == 422  # no reports, so no samples to download
    r = api.post(f"/api/models/{repo}/compare/main...dev/evaluate", headers=pushed["alice"].auth)
    assert r.status_code == 422 and "base" in r.json()["error"]
    assert "trained weights" in r.json()["error"]
    anonymous = api.post(f"/api/models/{repo}/compare/main...dev/evaluate")
    assert anonymous.status_code in (401, 403)
    schema = api.get("/openapi.json").json()["paths"]
    compare = schema["/api/models/{owner}/{name}/compare/{spec}"]["get"]
    assert compare["summary"] and compare["description"]
    body = compare["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"verdicts", "files", "samples", "ab"} <= set(body["properties"])


def _raw(confusion: list[list[int]], loss: float, predicted: list[int]) -> dict[str, Any]:
    return {
        "kind": "eval",
        "task": "image-classification",
        "model": "smallcnn",
        "classes": ["cat", "dog"],
        "splits": {"test": {"loss": loss, "confusion": confusion, "samples": 4}},
        "curves": {"step": [], "epoch": []},
        "predictions": {
            "split": "test",
            "paths": ["test/cat/1.png", "test/cat/2.png", "test/dog/3.png", "test/dog/4.png"],
            "true": [0, 0, 1, 1],
            "predicted": predicted,
            "confidence": [0.9, 0.8, 0.7, 0.6],
            "count": 4,
            "truncated": False,
        },
    }


def _store_report(hub: Hub, repo: str, commit: str, data: dict[str, Any]) -> None:
    with hub.sessions.begin() as session:
        row = find_repo(session, RepoKey("model", *repo.split("/")))
        assert row is not None
        job = Job(
            kind="eval",
            repo_id=row.id,
            network_id=row.network_id,
            commit_sha=commit,
            spec_hash="x" * 64,
            spec={},
            trigger="manual",
            state="succeeded",
            queue="cpu",
            priority=0,
            max_attempts=0,
            progress={},
            error="",
        )
        session.add(job)
        session.flush()
        session.add(
            Report(
                job_id=job.id,
                repo_id=row.id,
                network_id=row.network_id,
                commit_sha=commit,
                spec_hash="x" * 64,
                kind="eval",
                headline={},
                data=data,
            )
        )


def test_report_figures_agree_with_the_stored_reports(
    api: httpx.Client, hub: Hub, pushed: dict[str, Any]
) -> None:
    repo, main, dev = pushed["repo"], pushed["main"], pushed["dev"]
    missing = _compare(api, repo, "main...dev").json()
    assert {(m["side"], m["kind"]) for m in missing["missing"]} == {
        ("base", "train"),
        ("base", "eval"),
        ("head", "train"),
        ("head", "eval"),
    }
    assert f"base (main @ {main[:7]}) has no evaluation report yet" in [
        m["message"] for m in missing["missing"]
    ]
    dataset = {"dataset": {"repo": "alice/digits", "commit": "a" * 40}}
    # base gets cat/1 and dog/4 right; head fixes cat/2 and dog/3 and breaks dog/4
    base = build_report(_raw([[1, 1], [1, 1]], 0.9, [0, 1, 0, 1]), dataset)
    head = build_report(_raw([[2, 0], [1, 1]], 0.5, [0, 0, 1, 0]), dataset)
    _store_report(hub, repo, main, base)
    _store_report(hub, repo, dev, head)

    data = _compare(api, repo, "main...dev").json()
    assert {(m["side"], m["kind"]) for m in data["missing"]} == {
        ("base", "train"),
        ("head", "train"),
    }
    verdicts = {v["metric"]: v for v in data["verdicts"]}
    acc, loss = verdicts["accuracy"], verdicts["loss"]
    assert acc["base"] == base["metrics"]["test"]["accuracy"]
    assert acc["head"] == head["metrics"]["test"]["accuracy"]
    assert acc["delta"] == pytest.approx(acc["head"] - acc["base"])
    assert (acc["better"], acc["verdict"]) == ("higher", "better")
    assert (loss["base"], loss["head"], loss["better"], loss["verdict"]) == (
        0.9,
        0.5,
        "lower",
        "better",
    )
    for name, figures in data["metrics"]["test"].items():
        assert figures["base"] == base["metrics"]["test"][name]
        assert figures["head"] == head["metrics"]["test"][name]
    classes = {row["name"]: row for row in data["per_class"]}
    stored = {row["name"]: row for row in base["per_class"]}
    assert classes["dog"]["base"]["recall"] == stored["dog"]["recall"]
    assert classes["cat"]["delta"]["recall"] == pytest.approx(1.0 - 0.5)
    assert data["confusion"]["base"] == [[1, 1], [1, 1]]
    assert data["confusion"]["head"] == [[2, 0], [1, 1]]
    assert data["confusion"]["difference"] == [[1, -1], [0, 0]]
    samples = data["samples"]
    assert samples["comparable"] is True
    assert [s["path"] for s in samples["fixed"]] == ["test/cat/2.png", "test/dog/3.png"]
    assert [s["path"] for s in samples["broken"]] == ["test/dog/4.png"]
    assert (samples["fixed_count"], samples["broken_count"]) == (2, 1)
    fixed = samples["fixed"][0]
    assert fixed["true"] == "cat" and fixed["base"]["predicted"] == "dog"
    assert fixed["head"] == {"predicted": "cat", "confidence": 0.8}
    assert fixed["url"] == f"/datasets/alice/digits/resolve/{'a' * 40}/test/cat/2.png"
    assert data["dataset_mismatch"] is None


def test_dataset_repos_compare_too(
    api: httpx.Client, server: Server, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice, repo_type="dataset")
    work = git.init_repo(tmp_path / "data", {"train/0/a.txt": "a\n", "README.md": CARD_MAIN})
    first = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    second = git.commit(work, {"train/1/b.txt": "b\n", "README.md": CARD_DEV}, "more data")
    git("push", "-q", remote(server, f"datasets/{repo}", alice), "main", cwd=work)
    r = api.get(f"/api/datasets/{repo}/compare/{first[:8]}...main")
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["repo_type"] == "dataset" and data["head"]["sha"] == second
    assert {f["path"]: f["status"] for f in data["files"]["changed"]} == {
        "train/1/b.txt": "added",
        "README.md": "modified",
    }
    assert data["config"]["card"]["changes"][0]["key"] == "license"
    assert data["missing"] == []  # a dataset is not trained, so it lacks no report
    assert api.get(f"/api/models/{repo}/compare/main...main").status_code == 404


def test_cli_compare_talks_to_the_api(server: Server, pushed: dict[str, Any]) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*repohub_command(), "compare", pushed["repo"], *args, "--url", server.url],
            env={**os.environ, "REPOHUB_TOKEN": pushed["alice"].token},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    text = run("main...dev")
    assert text.returncode == 0, text.stderr
    assert f"main ({pushed['main'][:7]}) ... dev ({pushed['dev'][:7]})" in text.stdout
    assert "head is 1 commit(s) ahead and 0 behind" in text.stdout
    assert "7 file(s) changed" in text.stdout
    assert "base (main @" in text.stdout  # what is missing, and on which side
    as_json = run("v1...dev", "--json")
    assert as_json.returncode == 0 and '"ahead_by": 1' in as_json.stdout
    unknown = run("main...nope")
    assert unknown.returncode == 1 and "404: Invalid rev id: nope" in unknown.stderr
    no_weights = run("main...dev", "--evaluate")
    assert no_weights.returncode == 1 and "base (main @" in no_weights.stderr
