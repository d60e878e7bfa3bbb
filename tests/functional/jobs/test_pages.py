"""Job pages: readable as plain HTML tables, drawn as interactive SVG charts in Chromium,
following a running job live, and as invisible as their repo."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page

from tests.conftest import User
from tests.functional.jobs.conftest import Datasets, url
from tests.support.gitcli import Git
from tests.support.jobs import spec_yaml, wait_for
from tests.support.stack import Server


def _trained(
    server: Server,
    api: httpx.Client,
    git: Git,
    user: User,
    repo: str,
    dataset: str,
    tmp: Path,
    **params: int,
) -> dict:
    src = git.init_repo(tmp / "model", {"repohub.yaml": spec_yaml(dataset, params=params)})
    git("push", url(server, user, repo), "main", cwd=src)
    listed = api.get(f"/api/models/{repo}/jobs", headers=user.auth).json()
    return next(j for j in listed if j["kind"] == "train")


def test_pages_work_without_javascript_and_charts_draw_with_it(
    hub_server: Server,
    api: httpx.Client,
    new_user,
    new_repo,
    git: Git,
    public_datasets: Datasets,
    browser: Browser,
    tmp_path: Path,
) -> None:
    alice, mallory = new_user("alice"), new_user("mallory")
    model = new_repo(alice, private=True)
    job = _trained(hub_server, api, git, alice, model, public_datasets.tiny, tmp_path, epochs=2)
    assert wait_for(api, job["id"], headers=alice.auth)["state"] == "succeeded"
    with _logged_in(hub_server, alice) as browser_alice, _logged_in(hub_server, mallory) as other:
        listing = browser_alice.get(f"/{model}/jobs")
        assert listing.status_code == 200
        assert f"#{job['id']} train" in listing.text and "✓ succeeded" in listing.text
        page = browser_alice.get(f"/jobs/{job['id']}")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "epoch 2/2" in page.text and 'data-chart="line"' in page.text
        report = browser_alice.get(f"/jobs/{job['id']}/report")
        assert "Confusion matrix (test split)" in report.text and "test accuracy" in report.text
        for path in (f"/{model}/jobs", f"/jobs/{job['id']}", f"/jobs/{job['id']}/report"):
            assert other.get(path).status_code == 404
            assert api.get(path).status_code == 404
        cookies = dict(browser_alice.cookies)

    context = browser.new_context()
    context.add_cookies(
        [{"name": k, "value": v, "url": hub_server.url} for k, v in cookies.items()]
    )
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.goto(f"{hub_server.url}/jobs/{job['id']}/report")
    assert tab.locator("svg.chart-svg").count() >= 3, "epoch and step curves, per-class bars"
    first = tab.locator(".legend-item").first
    first.click()
    assert "off" in (first.get_attribute("class") or "")
    tab.locator("svg.chart-svg").first.hover()
    assert tab.locator(".chart-tip").first.is_visible()
    assert not problems
    _marks_beside_the_commit(tab, hub_server, model, job, "passed")
    context.close()


def _marks_beside_the_commit(tab: Page, server: Server, model: str, job: dict, mark: str) -> None:
    """The commit list and the commit page show the job's mark, linked to the job, styled."""
    sha = job["commit"]
    for path in (f"/{model}/commits/main", f"/{model}/commit/{sha}"):
        tab.goto(f"{server.url}{path}")
        link = tab.locator(f"a.job-mark[href='/jobs/{job['id']}']")
        assert link.count() == 1, path
        assert link.get_attribute("class") == f"job-mark mark-{mark}", path
        assert link.get_attribute("title") == f"train job {job['id']}: {mark}", path
        assert link.evaluate("a => getComputedStyle(a).fontWeight") == "600", "jobs.css applies"
    tab.locator(f"a.job-mark[href='/jobs/{job['id']}']").click()
    tab.wait_for_url(f"**/jobs/{job['id']}")


def test_a_job_page_follows_a_running_job(
    hub_server: Server,
    api: httpx.Client,
    new_user,
    new_repo,
    git: Git,
    public_datasets: Datasets,
    browser: Browser,
    tmp_path: Path,
) -> None:
    alice = new_user("alice")
    model = new_repo(alice)
    job = _trained(
        hub_server,
        api,
        git,
        alice,
        model,
        public_datasets.tiny,
        tmp_path,
        epochs=10000,
        batch_size=8,
    )
    wait_for(api, job["id"], ("running",), until=lambda j: j["progress"].get("step"))
    tab = browser.new_page()
    tab.goto(f"{hub_server.url}/jobs/{job['id']}")
    tab.locator("#live-loss svg.chart-svg").wait_for(timeout=60_000)
    log = api.get(f"/{model}/commits/main").text
    assert f'class="job-mark mark-running" href="/jobs/{job["id"]}"' in log, "plain HTML too"
    api.post(f"/api/jobs/{job['id']}/cancel", headers=alice.auth)
    tab.locator("h1:has-text('cancelled')").wait_for(timeout=60_000)
    assert "cancelled while running" in tab.content()
    tab.close()


@contextmanager
def _logged_in(server: Server, user: User) -> Iterator[httpx.Client]:
    """A client that logged in through the login form, as a browser does (session cookie)."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        form = client.get("/login")
        csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
        answer = client.post(
            "/login", data={"csrf": csrf, "login": user.name, "password": "S3cret-pass"}
        )
        assert answer.status_code in (200, 303), answer.text[:500]
        yield client
