"""The compare page in a real Chromium: two branches of a model that differ in epochs, both
trained and evaluated on a real Celery worker, compared side by side; the JSON API agrees
with the stored reports number for number; the versions page leads to the same compare; and
a private fork is a 404 in either position for anyone who may not read it.

Screenshots go to `test-artifacts/screenshots/` like the other web tests'.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from playwright.sync_api import Browser, Page

from repohub.auth.accounts import find_account
from repohub.auth.identity import Identity
from repohub.repos.context import Hub
from repohub.repos.service import RepoKey
from repohub.repos.settings import add_collaborator
from tests.conftest import User
from tests.functional.jobs import conftest as jobs_fixtures
from tests.functional.web.conftest import CSRF_RE as CSRF
from tests.functional.web.conftest import WebClient
from tests.support.gitcli import Git
from tests.support.jobs import spec_yaml, wait_for
from tests.support.stack import Server

# The jobs tests' deployment (a server with its Celery worker per storage configuration) and
# their pushed digits dataset, reused as they are.
jobs_stack = jobs_fixtures.jobs_stack
hub_server = jobs_fixtures.hub_server
jobs_hub = jobs_fixtures.jobs_hub
new_user = jobs_fixtures.new_user
digits_dir = jobs_fixtures.digits_dir
tiny_dir = jobs_fixtures.tiny_dir
public_datasets = jobs_fixtures.public_datasets

CARD = "---\nlicense: mit\ntags: [digits, epochs-{epochs}]\n---\n# Digits, {epochs} epoch(s)\n"
HIGHER_IS_BETTER = {"accuracy", "f1", "precision", "recall"}


@pytest.fixture
def jobs_api(hub_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub_server.url, timeout=60) as client:
        yield client


def _wait_reports(api: httpx.Client, user: User, repo: str, commit: str) -> None:
    listed = api.get(f"/api/models/{repo}/jobs", params={"commit": commit}, headers=user.auth)
    kinds = {job["kind"]: job for job in listed.json()}
    assert set(kinds) == {"train", "eval"}, listed.text
    for job in kinds.values():
        done = wait_for(api, job["id"], headers=user.auth)
        logs = api.get(f"/api/jobs/{job['id']}/logs", headers=user.auth).text
        assert done["state"] == "succeeded", logs


def _stored(api: httpx.Client, repo: str, commit: str) -> dict[int, dict[str, Any]]:
    """The reports on a commit through the jobs API, by report id."""
    answer = api.get(f"/api/models/{repo}/reports/{commit}")
    assert answer.status_code == 200, answer.text
    return {r["id"]: r["report"] for r in answer.json()["reports"]}


def _check_numbers(compare: dict[str, Any], stored: dict[str, dict[int, dict[str, Any]]]) -> None:
    """Every figure of the compare JSON is the stored reports' own number: the evaluation's
    where it measured one, else the training's."""
    measured: dict[str, dict[str, Any]] = {}
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for side in ("base", "head"):
        chosen = compare["reports"][side]
        assert chosen["eval"] is not None and chosen["train"] is not None, compare["reports"]
        evaluation = stored[side][chosen["eval"]["id"]]
        training = stored[side][chosen["train"]["id"]]
        measured[side] = evaluation
        figures[side] = {
            split: {**training["metrics"].get(split, {}), **evaluation["metrics"].get(split, {})}
            for split in {*training["metrics"], *evaluation["metrics"]}
        }
        for scope in ("step", "epoch"):
            assert compare["curves"][scope][side] == training["curves"][scope]
        assert compare["confusion"][side] == evaluation["confusion_matrix"]["matrix"]
    assert compare["metrics"], "both sides have metrics"
    for split, metrics in compare["metrics"].items():
        for name, row in metrics.items():
            base, head = figures["base"][split][name], figures["head"][split][name]
            assert (row["base"], row["head"]) == (base, head), (split, name)
            assert row["delta"] == pytest.approx(head - base, abs=1e-12)
    assert compare["metrics"]["test"]["accuracy"]["better"] == "higher"
    assert compare["metrics"]["test"]["loss"]["better"] == "lower"
    difference = [
        [h - b for b, h in zip(rb, rh, strict=True)]
        for rb, rh in zip(compare["confusion"]["base"], compare["confusion"]["head"], strict=True)
    ]
    assert compare["confusion"]["difference"] == difference
    classes = {c["name"]: c for c in measured["head"]["per_class"]}
    assert len(compare["per_class"]) == len(classes) == 10
    for row in compare["per_class"]:
        assert row["head"]["f1"] == classes[row["name"]]["f1"]


def _verdict(metric: str, delta: float) -> str:
    if delta == 0:
        return "unchanged"
    return "better" if (delta > 0) == (metric in HIGHER_IS_BETTER) else "worse"


def test_two_trained_branches_side_by_side(
    hub_server: Server,
    jobs_api: httpx.Client,
    new_user,
    git: Git,
    public_datasets: jobs_fixtures.Datasets,
    browser: Browser,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    alice = new_user("alice")
    name = f"digits-{alice.name}"
    body = {"name": name, "type": "model", "private": False, "empty": True}
    created = jobs_api.post("/api/repos/create", json=body, headers=alice.auth)
    assert created.status_code == 200, created.text
    model = f"{alice.name}/{name}"
    remote = jobs_fixtures.url(hub_server, alice, model)
    digits = public_datasets.digits

    def spec(epochs: int) -> str:
        return spec_yaml(digits, branches="[main, long]", params={"epochs": epochs, "seed": 1})

    src = git.init_repo(
        tmp_path / "model", {"repohub.yaml": spec(1), "README.md": CARD.format(epochs=1)}
    )
    git("push", "-q", remote, "main", cwd=src)
    base_sha = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    git("checkout", "-q", "-b", "long", cwd=src)
    files = {"repohub.yaml": spec(5), "README.md": CARD.format(epochs=5), "notes.txt": "5\n"}
    head_sha = git.commit(src, files, "Five epochs instead of one")
    git("push", "-q", remote, "long", cwd=src)
    for sha in (base_sha, head_sha):
        _wait_reports(jobs_api, alice, model, sha)

    answer = jobs_api.get(f"/api/models/{model}/compare/main...long")
    assert answer.status_code == 200, answer.text
    compare = answer.json()
    assert (compare["base"]["sha"], compare["head"]["sha"]) == (base_sha, head_sha)
    assert compare["ahead_by"] == 1 and compare["commits"][0]["sha"] == head_sha
    stored = {
        "base": _stored(jobs_api, model, base_sha),
        "head": _stored(jobs_api, model, head_sha),
    }
    _check_numbers(compare, stored)
    accuracy = compare["metrics"]["test"]["accuracy"]
    assert accuracy["head"] > accuracy["base"], "five epochs learn more than one"
    changes = {c["key"]: c for c in compare["config"]["spec"]["changes"]}
    assert (changes["train.params.epochs"]["base"], changes["train.params.epochs"]["head"]) == (
        1,
        5,
    )
    samples = compare["samples"]
    assert samples["comparable"] and samples["fixed"] + samples["broken"]

    tab = browser.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.set_default_timeout(30_000)
    tab.goto(f"{hub_server.url}/{model}/compare/main...long")
    _check_page(tab, compare)
    tab.screenshot(path=str(screenshots / "compare-page.png"), full_page=True)

    tab.goto(f"{hub_server.url}/{model}/versions")
    rows = tab.locator("table.versions-table tbody tr")
    assert rows.count() == 2
    assert tab.locator(f"tr[data-sha='{head_sha}'] td").nth(2).inner_text().strip() == "long"
    shown = tab.locator(f"tr[data-sha='{base_sha}']").inner_text()
    assert f"{accuracy['base']:.4f}" in shown
    assert tab.locator("#history-test_accuracy svg.chart-svg").count() == 1
    tab.screenshot(path=str(screenshots / "versions-page.png"), full_page=True)
    tab.check(f"input[value='{base_sha}']")
    tab.check(f"input[value='{head_sha}']")
    tab.click("button:has-text('Compare selected')")
    tab.wait_for_url(re.compile(f"/compare/{base_sha}...{head_sha}$"))
    assert tab.locator("table.verdicts tr[data-metric='test_accuracy'] td").nth(2).inner_text() == (
        f"{accuracy['delta']:+.4f}"
    )
    assert not problems, problems
    tab.close()


def _check_page(tab: Page, compare: dict[str, Any]) -> None:
    for v in compare["verdicts"]:
        row = tab.locator(f"table.verdicts tr[data-metric='{v['split']}_{v['metric']}']")
        cells = row.locator("td")
        assert cells.nth(2).inner_text() == f"{v['delta']:+.4f}"
        assert v["verdict"] == _verdict(v["metric"], v["delta"])
        assert v["verdict"] in (cells.nth(2).get_attribute("class") or "")
        arrow = "↑ higher is better" if v["metric"] in HIGHER_IS_BETTER else "↓ lower is better"
        assert cells.nth(4).inner_text() == arrow
    accuracy = tab.locator("table.metrics-table tr[data-metric='test_accuracy'] td")
    assert accuracy.nth(0).inner_text() == "accuracy"
    assert "better" in (accuracy.nth(3).get_attribute("class") or "")

    for chart, series in (("step-loss", "loss"), ("epoch-loss", "train_loss")):
        svg = tab.locator(f"#curve-{chart} svg.chart-svg")
        assert svg.count() == 1
        for side in ("base", "head"):
            line = svg.locator(f"polyline[data-series='{side} {series}']")
            assert line.count() == 1 and len(line.get_attribute("points").split()) >= 1
    epochs = tab.locator("#curve-epoch-loss table tbody tr")
    assert epochs.count() == 5

    for kind in ("base", "head", "difference"):
        table = tab.locator(f"table.confusion[data-matrix='{kind}']")
        assert table.is_visible()
        cells = [
            [int(c) for c in row.locator("td").all_inner_texts()]
            for row in table.locator("tbody tr").all()
        ]
        assert cells == compare["confusion"][kind], kind

    shown = tab.locator(".sample-set li.sample")
    assert shown.count() == len(compare["samples"]["fixed"]) + len(compare["samples"]["broken"])
    fixed = tab.locator(".sample-set[data-set='fixed'] h3").text_content()
    assert fixed == f"Fixed by head ({compare['samples']['fixed_count']})"
    first = shown.first.locator("img")
    first.scroll_into_view_if_needed()
    tab.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=first.element_handle())
    zip_link = tab.locator(".sample-downloads a", has_text="all").get_attribute("href")
    assert zip_link and zip_link.endswith("/samples.zip?set=all")
    archive = tab.request.get(urljoin(tab.url, zip_link))
    assert archive.ok, archive.text()
    with zipfile.ZipFile(io.BytesIO(archive.body())) as opened:
        images = [n for n in opened.namelist() if n.endswith(".png")]
    assert len(images) == compare["samples"]["fixed_count"] + compare["samples"]["broken_count"]

    assert tab.locator("table.config-changes tr[data-key='train.params.epochs']").count() == 1
    assert tab.locator(".changed-file[data-path='repohub.yaml'] tr.add").count() >= 1
    assert tab.locator(".changed-file[data-path='notes.txt'] .change").text_content() == "added"
    assert tab.locator("table.card-changes").inner_text().count("epochs-") == 2

    per_class = tab.locator("table.per-class tbody tr td:first-child")
    before = per_class.all_inner_texts()
    tab.locator("table.per-class th button", has_text="class").click()
    assert per_class.all_inner_texts() == sorted(before)
    tab.locator("table.per-class th button", has_text="class").click()
    assert per_class.all_inner_texts() == sorted(before, reverse=True)
    tab.locator("table.per-class th button", has_text="Δ f1").click()
    changes = [
        float(v)
        for v in tab.locator("table.per-class td[data-value]").evaluate_all(
            "cells => cells.filter(c => c.cellIndex === c.parentNode.cells.length - 1)"
            ".map(c => c.dataset.value)"
        )
    ]
    assert changes == sorted(changes, reverse=True) and before == [
        row["name"] for row in sorted(compare["per_class"], key=lambda r: -r["delta"]["f1"])
    ]


def test_a_private_fork_is_not_found_in_either_position(
    server: Server,
    hub: Hub,
    api: httpx.Client,
    make_user,
    make_repo,
    web: WebClient,
    other_web: WebClient,
    browser: Browser,
) -> None:
    alice, carol = make_user("alice"), make_user("carol")
    parent = make_repo(alice, private=True, empty=False)
    org = f"lab{alice.name}"
    made = api.post("/api/organizations", json={"name": org}, headers=alice.auth)
    assert made.status_code in (200, 201), made.text
    forked = api.post(f"/api/models/{parent}/fork", json={"organization": org}, headers=alice.auth)
    assert forked.status_code == 200, forked.text
    fork = forked.json()["name"]
    with hub.sessions() as session:
        account = find_account(session, alice.name)
        assert account is not None
        owner = Identity(account.id, account.name, scope="write")
    add_collaborator(hub, owner, RepoKey("model", *parent.split("/")), carol.name, "read")

    hidden = [
        f"/{parent}/compare/main...{org}:main",
        f"/{parent}/compare/{org}:main...main",
        f"/{fork}/compare/main...{alice.name}:main",
    ]
    web.login(alice.name, "S3cret-pass")
    for path in hidden:
        assert web.get(path).status_code == 200, path
    other_web.login(carol.name, "S3cret-pass")
    assert other_web.get(f"/{parent}/compare/main...main").status_code == 200
    for path in hidden:
        answer = other_web.get(path)
        assert answer.status_code == 404, path
        assert org not in answer.text.replace(path, "")

    tab = browser.new_page()
    for path in hidden:
        shown = tab.goto(f"{server.url}{path}")
        assert shown is not None and shown.status == 404, path
        assert tab.locator("h1").inner_text() == "Not found"
        assert org not in tab.locator("main").inner_text()
    tab.close()


def test_missing_reports_offer_to_start_the_job(
    server: Server,
    api: httpx.Client,
    make_user,
    make_repo,
    git: Git,
    web: WebClient,
    other_web: WebClient,
    tmp_path: Path,
) -> None:
    """A side without reports says so; its owner gets a button that starts the job (a
    CSRF-checked form of the jobs page), anyone else a hint; the A/B button needs weights."""
    alice, mallory = make_user("alice"), make_user("mallory")
    model = make_repo(alice, empty=False)
    remote = f"http://{alice.name}:{alice.token}@{server.url.removeprefix('http://')}/{model}"
    work = tmp_path / "clone"
    git("clone", "-q", remote, str(work))
    git("checkout", "-q", "-b", "exp", cwd=work)
    spec = "on: {push: {branches: [nothing]}}\ntrain: {model: smallcnn, dataset: nobody/none}\n"
    head = git.commit(work, {"repohub.yaml": spec}, "a spec, never trained")
    git("push", "-q", remote, "exp", cwd=work)
    path = f"/{model}/compare/main...exp"
    start = re.compile(
        rf'<form method="post" action="/{model}/jobs".*?name="kind" value="(\w+)">'
        r'<input type="hidden" name="revision" value="(\w+)">',
        re.S,
    )

    anonymous = web.get(path)
    assert anonymous.status_code == 200
    assert f"head (exp @ {head[:7]}) has no training report yet" in anonymous.text
    assert not start.findall(anonymous.text) and "to start it" in anonymous.text
    other_web.login(mallory.name, "S3cret-pass")
    assert not start.findall(other_web.get(path).text), "no write access, no button"

    web.login(alice.name, "S3cret-pass")
    page = web.get(path)
    offered = start.findall(page.text)
    assert ("train", head) in offered and ("eval", head) in offered
    token = CSRF.search(page.text)
    assert token
    started = web.http.post(
        f"/{model}/jobs", data={"csrf": token.group(1), "kind": "train", "revision": head}
    )
    assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
    again = web.get(path).text
    assert re.search(r"has no training report yet\.\s*<span class=\"meta\">\(job \w+\)", again)

    refused = web.http.post(path, data={"csrf": "forged"})
    assert refused.status_code == 403
    ab = web.http.post(path, data={"csrf": token.group(1)})
    assert ab.status_code == 422 and "has no trained weights" in ab.text

    picked = web.get(f"/{model}/compare", params={"v": [head, "main"]})
    assert picked.status_code == 303
    assert picked.headers["location"] == f"/{model}/compare/main...{head}"
    assert web.get(f"/{model}/compare", params={"v": [head]}).status_code == 400
    form = web.get(f"/{model}/compare")
    assert form.status_code == 200 and 'name="head"' in form.text and "main … exp" in form.text
    unknown = web.get(f"/{model}/compare/main...no-such-branch")
    assert unknown.status_code == 404

    dataset = make_repo(alice, repo_type="dataset", empty=False)
    shown = web.get(f"/datasets/{dataset}/compare/main...main")
    assert shown.status_code == 200 and "0</strong> commits ahead" in shown.text
    assert 'id="metrics"' not in shown.text and "0 files changed" in shown.text
