"""How jobs fail, stop and refuse: bad specs, cancel, a killed worker, duplicate triggers,
private datasets and weights files that carry code."""

from __future__ import annotations

import os
import pickle
import signal
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import User
from tests.functional.jobs.conftest import Datasets, url
from tests.support.gitcli import Git
from tests.support.jobs import push_tree, spec_yaml, wait_for
from tests.support.stack import Server

LONG = {"epochs": 10000, "batch_size": 8}  # runs until something stops it


def _push_model(
    server: Server, git: Git, user: User, repo: str, tmp_path: Path, files: dict[str, str | bytes]
) -> tuple[str, str]:
    src = git.init_repo(tmp_path / repo.replace("/", "-"), files)
    pushed = git("push", url(server, user, repo), "main", cwd=src)
    return git("rev-parse", "HEAD", cwd=src).stdout.strip(), pushed.stderr


def _jobs(api: httpx.Client, repo: str, user: User | None = None) -> dict[str, dict]:
    headers = user.auth if user else None
    newest_first = api.get(f"/api/models/{repo}/jobs", headers=headers).json()
    return {j["kind"]: j for j in reversed(newest_first)}  # the newest job of each kind


def test_a_bad_spec_fails_at_once_naming_the_field_and_the_worker_goes_on(
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
    bad = spec_yaml(public_datasets.tiny, params={"base_lr": "fast"})
    _push_model(hub_server, git, alice, model, tmp_path, {"repohub.yaml": bad})
    jobs = _jobs(api, model)
    failed = wait_for(api, jobs["train"]["id"])
    assert failed["state"] == "failed"
    assert failed["error"] == "train.params.base_lr: must be a number, got 'fast'"
    skipped = wait_for(api, jobs["eval"]["id"])
    assert skipped["state"] == "cancelled"
    assert skipped["error"] == f"not run: its train job {failed['id']} failed: {failed['error']}"
    retried = api.post(f"/api/jobs/{failed['id']}/retry", headers=alice.auth)
    assert retried.status_code == 200 and retried.json()["state"] == "queued"
    again = wait_for(api, failed["id"], until=lambda j: j["attempts"] == 2)
    assert again["state"] == "failed" and again["error"] == failed["error"]
    assert "retried by" in api.get(f"/api/jobs/{failed['id']}/logs").text
    assert wait_for(api, jobs["eval"]["id"])["state"] == "cancelled", "it waited again, in vain"

    src = tmp_path / model.replace("/", "-")
    git.commit(src, {"repohub.yaml": "train: [unclosed\n"}, "broken yaml")
    pushed = git("push", url(hub_server, alice, model), "main", cwd=src)
    assert "no job started: repohub.yaml: not valid YAML" in pushed.stderr

    git.commit(src, {"repohub.yaml": spec_yaml(public_datasets.tiny, params={"epochs": 1})}, "fix")
    git("push", url(hub_server, alice, model), "main", cwd=src)
    fixed = _jobs(api, model)["train"]
    assert fixed["id"] != failed["id"]
    assert wait_for(api, fixed["id"])["state"] == "succeeded"


def test_cancel_kills_a_running_job(
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
    _push_model(
        hub_server,
        git,
        alice,
        model,
        tmp_path,
        {"repohub.yaml": spec_yaml(public_datasets.tiny, params=LONG)},
    )
    jobs = _jobs(api, model)
    running = wait_for(
        api, jobs["train"]["id"], ("running",), until=lambda j: j["progress"].get("step")
    )
    for stranger in ({}, {"Authorization": f"Bearer {alice.read_token}"}):
        assert api.post(f"/api/jobs/{running['id']}/cancel", headers=stranger).status_code == 403
    answer = api.post(f"/api/jobs/{running['id']}/cancel", headers=alice.auth)
    assert answer.status_code == 200, answer.text
    cancelled = wait_for(api, running["id"])
    assert cancelled["state"] == "cancelled"
    assert "killed" in cancelled["error"]
    step = cancelled["progress"]["step"]
    assert wait_for(api, running["id"])["progress"]["step"] == step, "the run stopped for real"
    assert wait_for(api, jobs["eval"]["id"])["state"] == "cancelled"
    again = api.post(f"/api/jobs/{running['id']}/cancel", headers=alice.auth)
    assert again.status_code == 409


def test_a_killed_worker_never_leaves_a_job_running(
    hub_server: Server,
    api: httpx.Client,
    new_user,
    new_repo,
    git: Git,
    public_datasets: Datasets,
    tmp_path: Path,
) -> None:
    """SIGKILL the worker (its Celery process, forkserver and run): the scheduler of the
    worker `serve` restarts notices the stopped heartbeat and queues the job again."""
    alice = new_user("alice")
    model = new_repo(alice)
    _push_model(
        hub_server,
        git,
        alice,
        model,
        tmp_path,
        {"repohub.yaml": spec_yaml(public_datasets.tiny, params=LONG)},
    )
    job_id = _jobs(api, model)["train"]["id"]
    running = wait_for(api, job_id, ("running",), until=lambda j: j["progress"].get("step"))
    os.killpg(os.getpgid(running["workerPid"]), signal.SIGKILL)

    retried = wait_for(
        api,
        job_id,
        ("running", "failed"),
        until=lambda j: j["attempts"] >= 2 or j["state"] == "failed",
    )
    logs = api.get(f"/api/jobs/{job_id}/logs").text
    assert "stopped answering" in logs
    if retried["state"] == "running":
        assert retried["workerPid"] != running["workerPid"], "a new worker took it"
        api.post(f"/api/jobs/{job_id}/cancel", headers=alice.auth)
    assert wait_for(api, job_id)["state"] in ("cancelled", "failed")


def test_duplicate_triggers_run_once(
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
    spec = spec_yaml(public_datasets.tiny, branches='[main, "exp/*"]', params={"epochs": 1})
    commit, first = _push_model(hub_server, git, alice, model, tmp_path, {"repohub.yaml": spec})
    src = tmp_path / model.replace("/", "-")
    second = git("push", url(hub_server, alice, model), "main:refs/heads/exp/again", cwd=src)
    assert "queued train job" in first and "already has train job" in second.stderr
    manual = api.post(
        f"/api/models/{model}/jobs",
        json={"kind": "train", "revision": "exp/again"},
        headers=alice.auth,
    )
    assert manual.status_code == 200, manual.text
    listed = api.get(f"/api/models/{model}/jobs").json()
    assert sorted(j["kind"] for j in listed) == ["eval", "train"]
    assert manual.json()["jobs"][0]["id"] == _jobs(api, model)["train"]["id"]
    assert all(j["commit"] == commit for j in listed)
    tweaked = api.post(
        f"/api/models/{model}/jobs",
        json={"kind": "train", "overrides": {"train": {"params": {"epochs": 2}}}, "priority": 3},
        headers=alice.auth,
    )
    assert tweaked.status_code == 201, "other parameters are other work"
    for job in api.get(f"/api/models/{model}/jobs").json():
        assert wait_for(api, job["id"])["state"] == "succeeded"


def test_a_private_dataset_the_pusher_cannot_read_is_refused(
    hub_server: Server,
    api: httpx.Client,
    new_user,
    new_repo,
    git: Git,
    tiny_dir: Path,
    public_datasets: Datasets,
    tmp_path: Path,
) -> None:
    alice, bob = new_user("alice"), new_user("bob")
    secret = new_repo(bob, "dataset", private=True)
    push_tree(git, tiny_dir, tmp_path / "secret", url(hub_server, bob, f"datasets/{secret}"))
    model = new_repo(alice)
    _push_model(
        hub_server,
        git,
        alice,
        model,
        tmp_path,
        {"repohub.yaml": spec_yaml(secret, params={"epochs": 1})},
    )
    refused = wait_for(api, _jobs(api, model)["train"]["id"])
    assert refused["state"] == "failed"
    assert refused["error"] == f"train.dataset: no dataset repo {secret} that {alice.name} can read"
    missing = api.post(
        f"/api/models/{model}/jobs",
        json={"kind": "train", "overrides": {"train": {"dataset": f"{bob.name}/nothing-here"}}},
        headers=alice.auth,
    ).json()["jobs"][0]
    error = wait_for(api, missing["id"])["error"]
    assert (
        error
        == f"train.dataset: no dataset repo {bob.name}/nothing-here that {alice.name} can read"
    )

    bobs_model = new_repo(bob, private=True)
    _push_model(
        hub_server,
        git,
        bob,
        bobs_model,
        tmp_path,
        {"repohub.yaml": spec_yaml(secret, params={"epochs": 1})},
    )
    bobs_job = _jobs(api, bobs_model, bob)["train"]
    assert wait_for(api, bobs_job["id"], headers=bob.auth)["state"] == "succeeded"
    assert api.get(f"/api/jobs/{bobs_job['id']}", headers=alice.auth).status_code == 404
    assert api.get(f"/api/models/{bobs_model}/jobs", headers=alice.auth).status_code == 404
    assert api.get(f"/api/jobs/{bobs_job['id']}/report").status_code == 404


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("route", ["init", "eval"])
def test_a_pickle_payload_in_a_pt_file_never_runs(
    route: str,
    hub_server: Server,
    api: httpx.Client,
    new_user,
    new_repo,
    git: Git,
    public_datasets: Datasets,
    tmp_path: Path,
) -> None:
    alice = new_user("alice")
    marker = tmp_path / "payload-ran"
    evil = new_repo(alice)
    _push_model(
        hub_server, git, alice, evil, tmp_path, {"model.pt": pickle.dumps({"w": Payload(marker)})}
    )
    if route == "init":
        model = new_repo(alice)
        spec = spec_yaml(public_datasets.tiny, init=f"{evil}@main", params={"epochs": 1})
        _push_model(hub_server, git, alice, model, tmp_path, {"repohub.yaml": spec})
        job = _jobs(api, model)["train"]
        field = "train.init"
    else:
        started = api.post(
            f"/api/models/{evil}/jobs",
            json={"kind": "eval", "dataset": public_datasets.tiny},
            headers=alice.auth,
        )
        assert started.status_code == 201, started.text
        job = started.json()["jobs"][0]
        field = "weights"
    failed = wait_for(api, job["id"])
    assert failed["state"] == "failed"
    assert (
        failed["error"].startswith(f"{field}: ")
        and "model.pt is not a plain weights file" in failed["error"]
    )
    assert "weights_only=True" in failed["error"]
    assert not marker.exists(), "the pickle's code ran"


def _run_processes(worker_pid: int) -> list[psutil.Process]:
    """The runs a worker watches: children of its forkserver (itself a child of the worker)."""
    runs = []
    for child in psutil.Process(worker_pid).children():
        if "forkserver" in " ".join(child.cmdline()):
            runs += child.children()
    return runs


def test_a_run_killed_by_a_signal_fails_naming_it_and_the_worker_goes_on(
    hub_server: Server,
    api: httpx.Client,
    new_user,
    new_repo,
    git: Git,
    public_datasets: Datasets,
    tmp_path: Path,
) -> None:
    """The run dies under its worker (the kernel's OOM killer, a crash): the job fails with
    the signal's name, its eval says why it never ran, and the same worker takes the next."""
    alice = new_user("alice")
    model = new_repo(alice)
    spec = spec_yaml(public_datasets.tiny, params=LONG)
    _push_model(hub_server, git, alice, model, tmp_path, {"repohub.yaml": spec})
    jobs = _jobs(api, model)
    running = wait_for(
        api, jobs["train"]["id"], ("running",), until=lambda j: j["progress"].get("step")
    )
    runs = _run_processes(running["workerPid"])
    assert len(runs) == 1, runs
    runs[0].send_signal(signal.SIGKILL)

    failed = wait_for(api, running["id"])
    assert failed["state"] == "failed"
    assert failed["error"].startswith("the run process was killed by SIGKILL"), failed["error"]
    assert "killed by SIGKILL" in api.get(f"/api/jobs/{running['id']}/logs").text
    page = api.get(f"/jobs/{running['id']}").text
    assert "the run process was killed by SIGKILL" in page
    skipped = wait_for(api, jobs["eval"]["id"])
    assert skipped["state"] == "cancelled"
    assert skipped["error"].startswith(
        f"not run: its train job {running['id']} failed: the run process was killed by SIGKILL"
    )

    assert psutil.pid_exists(running["workerPid"]), "the worker goes on"
    again = api.post(f"/api/jobs/{running['id']}/retry", headers=alice.auth)
    assert again.status_code == 200, again.text
    rerun = wait_for(api, running["id"], ("running",), until=lambda j: j["attempts"] == 2)
    assert rerun["workerPid"] == running["workerPid"], "the same worker took it"
    api.post(f"/api/jobs/{running['id']}/cancel", headers=alice.auth)
    assert wait_for(api, running["id"])["state"] == "cancelled"
