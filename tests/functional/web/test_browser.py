"""The web in a real browser (Debian Chromium, headless, through Playwright): the story of
the issue from sign-up to fork, a private repo's 404, an inert model card, a phone-sized
screen. Screenshots of the main pages go to `test-artifacts/screenshots/`."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.functional.web.test_browse import PNG, safetensors_bytes
from tests.support.gitcli import Git
from tests.support.stack import Server, Stack

PASSWORD = "Br0wser-pass"
EVIL_CARD = """---
license: mit
library_name: pytorch
pipeline_tag: image-classification
tags: [vision]
---
# Digit recogniser {word}

A small convnet for handwritten digits ({word}).

<script>alert("card script ran")</script>
<img src="x" onerror="alert('onerror ran')">
<a href="javascript:alert('link ran')">click me</a>

| metric | value |
| --- | --- |
| accuracy | 0.99 |
"""


TRAIN = "import torch\n\n\ndef train(epochs: int = {epochs}) -> None:\n    print(epochs)\n"


class Shots:
    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder, self.prefix = folder, prefix

    def __call__(self, page: Page, name: str) -> None:
        page.screenshot(path=str(self.folder / f"{self.prefix}-{name}.png"), full_page=True)


@pytest.fixture
def contexts(browser: Browser, server: Server) -> Iterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def _open(browser: Browser, server: Server, contexts: list[BrowserContext], **options) -> Page:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=server.url, **options)
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def _watch_dialogs(page: Page, seen: list[str]) -> None:
    def record(dialog) -> None:  # type: ignore[no-untyped-def]
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)


def _sign_up(page: Page, name: str) -> None:
    page.goto("/join")
    page.fill("#username", name)
    page.fill("#email", f"{name}@example.com")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign up')")
    expect(page.locator("a.me")).to_have_text(name)


def _create_repo(page: Page, owner: str, name: str, *, private: bool = False) -> None:
    page.goto("/new")
    page.fill("#name", name)
    if private:
        page.check("input[name=visibility][value=private]")
    page.click("button:has-text('Create repository')")
    expect(page).to_have_url(re.compile(rf"/{owner}/{name}$"))


def _push(
    git: Git, src: Path, server: Server, owner: str, token: str, repo: str, word: str
) -> None:
    """Clone the new repo (it starts, as on the Hub, with `.gitattributes` and a card stub),
    commit a model on top, and push it back with the token as the password."""
    git("lfs", "install", "--skip-repo")
    host = server.url.removeprefix("http://")
    url = f"http://{owner}:{token}@{host}/{repo}"
    git("clone", "-q", url, str(src))
    weights = safetensors_bytes({"conv.weight": ("F32", [8, 1, 3, 3]), "fc.bias": ("F32", [10])})
    git.commit(
        src,
        {
            "README.md": EVIL_CARD.format(word=word),
            "src/train.py": TRAIN.format(epochs=3),
            "images/sample.png": PNG,
            "model.safetensors": weights + b"\0" * 328,
        },
        "Add the digit model",
    )
    git.commit(src, {"src/train.py": TRAIN.format(epochs=5)}, "Train for five epochs")
    git("push", "-q", "origin", "main", cwd=src)


def test_the_web_story_in_chromium(
    browser: Browser,
    server: Server,
    stack: Stack,
    contexts: list[BrowserContext],
    screenshots: Path,
    git: Git,
    tmp_path: Path,
) -> None:
    shots = Shots(screenshots, stack.name)
    dialogs: list[str] = []
    suffix = secrets.token_hex(3)
    alice, bob, word = f"alice-{suffix}", f"bob-{suffix}", f"mnistlike{suffix}"

    page = _open(browser, server, contexts)
    _watch_dialogs(page, dialogs)
    page.goto("/login")
    shots(page, "login")
    _sign_up(page, alice)

    page.goto("/settings/tokens")
    page.fill("input[name=name]", "laptop")
    page.select_option("select[name=scope]", "write")
    page.click("button:has-text('Create token')")
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("rh_")
    shots(page, "settings-tokens")

    _create_repo(page, alice, "digits")
    repo = f"{alice}/digits"
    expect(page.locator("article.card-body h1")).to_have_text(repo)  # the stub card
    _push(git, tmp_path / "src", server, alice, token, repo, word)

    page.goto(f"/{repo}")
    expect(page.locator("article.card-body h1")).to_have_text(f"Digit recogniser {word}")
    expect(page.locator(".side")).to_contain_text("image-classification")
    expect(page.locator(".side")).to_contain_text("git clone")
    expect(page.locator("article.card-body table")).to_contain_text("0.99")
    page.get_by_text("click me").click()
    assert page.locator("script").count() == 0
    assert page.locator("[onerror]").count() == 0
    shots(page, "repo")

    page.click("a:has-text('src/')")
    expect(page).to_have_url(re.compile(rf"/{repo}/tree/main/src$"))
    page.click("a:has-text('train.py')")
    expect(page.locator(".code-view")).to_contain_text("def train")
    shots(page, "blob-code")

    page.goto(f"/{repo}/blob/main/model.safetensors")
    expect(page.locator(".safetensors dd strong")).to_have_text("82")  # 8*1*3*3 + 10 parameters
    shots(page, "blob-safetensors")

    page.goto(f"/{repo}/commits/main")
    shots(page, "commits")
    page.click("a.commit-title:has-text('Train for five epochs')")
    expect(page.locator(".difftable tr.add")).to_contain_text("epochs: int = 5")
    shots(page, "commit-diff")

    page.goto("/")
    page.fill(".topsearch input", word)
    page.press(".topsearch input", "Enter")
    expect(page.locator(".repo-item-name")).to_have_text([repo])
    shots(page, "search")
    page.goto("/")
    shots(page, "home")

    other = _open(browser, server, contexts)
    _watch_dialogs(other, dialogs)
    _sign_up(other, bob)
    other.goto(f"/{repo}")
    other.click("summary:has-text('Fork')")
    other.select_option("#fork-ns", bob)
    other.fill("#fork-name", "digits-fork")
    other.click("button:has-text('Fork repository')")
    expect(other).to_have_url(re.compile(rf"/{bob}/digits-fork$"))
    expect(other.locator(".forked-from")).to_have_text(f"forked from {repo}")
    expect(other.locator("article.card-body h1")).to_have_text(f"Digit recogniser {word}")
    shots(other, "fork")
    other.goto(f"/{bob}")
    shots(other, "profile")

    _create_repo(page, alice, "secret-digits", private=True)
    page.goto(f"/{repo}/settings")
    shots(page, "repo-settings")
    stranger = _open(browser, server, contexts)
    answer = stranger.goto(f"/{alice}/secret-digits")
    assert answer is not None and answer.status == 404
    expect(stranger.locator("h1")).to_have_text("Not found")
    missing = stranger.goto(f"/{alice}/never-existed")
    assert missing is not None and missing.status == 404
    shots(stranger, "not-found")

    phone = _open(browser, server, contexts, viewport={"width": 390, "height": 844}, is_mobile=True)
    for path in (f"/{repo}", f"/{repo}/blob/main/src/train.py", "/models", f"/{repo}/commits/main"):
        phone.goto(path)
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    phone.goto(f"/{repo}")
    shots(phone, "repo-mobile")

    assert dialogs == []
