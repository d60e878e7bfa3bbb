"""Search: full text over names, descriptions and cards; filters; sorts; pages; privacy."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import httpx

from tests.conftest import User
from tests.functional.test_git_transfer import remote
from tests.functional.web.conftest import WebClient
from tests.support.gitcli import Git
from tests.support.stack import Server


def _names(html: str) -> list[str]:
    return re.findall(r'class="repo-item-name" href="/(?:datasets/)?([^"]+)"', html)


def _push_card(server: Server, git: Git, path: Path, repo: str, user: User, card: str) -> None:
    src = git.init_repo(path, {"README.md": card})
    git("push", remote(server, repo, user), "main", cwd=src)


def test_search_reads_cards_after_each_push(
    server: Server, web: WebClient, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    word = f"zq{secrets.token_hex(4)}"  # a word no other test uses
    repo = make_repo(alice)
    card = (
        f"---\nlicense: mit\nlibrary_name: lib{word}\npipeline_tag: task{word}\n---\n"
        f"# Model\n\nTrained on the {word}corpus collection.\n"
    )
    _push_card(server, git, tmp_path / "src", repo, alice, card)

    assert _names(web.get("/models", params={"q": f"{word}corpus"}).text) == [repo]
    assert _names(web.get("/models", params={"q": word}).text) == [repo]  # word prefix
    by_name = web.get("/models", params={"q": repo.split("/")[1]}).text
    assert repo in _names(by_name)
    filtered = web.get("/models", params={"task": f"task{word}", "license": "mit"}).text
    assert _names(filtered) == [repo]
    assert _names(web.get("/models", params={"library": f"lib{word}"}).text) == [repo]
    assert _names(web.get("/models", params={"task": f"task{word}", "license": "gpl"}).text) == []
    assert _names(web.get("/models", params={"owner": alice.name}).text) == [repo]
    assert _names(web.get("/datasets", params={"q": word}).text) == []

    src = tmp_path / "src"
    git.commit(src, {"README.md": "# Renamed\n\nNow about gardening.\n"}, "new card")
    git("push", remote(server, repo, alice), "main", cwd=src)
    assert _names(web.get("/models", params={"q": f"{word}corpus"}).text) == []
    assert repo in _names(web.get("/models", params={"q": "gardening", "owner": alice.name}).text)


def test_private_repos_are_found_only_by_those_who_may_read_them(
    web: WebClient, other_web: WebClient, make_user, make_repo
) -> None:
    owner, stranger = make_user("owner"), make_user("stranger")
    secret = make_repo(owner, private=True, empty=False)
    name = secret.split("/")[1]
    assert _names(web.get("/models", params={"q": name}).text) == []
    other_web.login(stranger.name)
    assert _names(other_web.get("/models", params={"q": name}).text) == []
    web.login(owner.name)
    assert _names(web.get("/models", params={"q": name}).text) == [secret]


def test_sorting_and_paging(web: WebClient, api: httpx.Client, make_user, make_repo) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    repos = [make_repo(alice) for _ in range(32)]
    first = web.get("/models", params={"owner": alice.name, "sort": "updated"}).text
    assert len(_names(first)) == 30 and 'rel="next"' in first
    assert _names(first)[0] == repos[-1]  # newest first
    second = web.get("/models", params={"owner": alice.name, "sort": "updated", "p": "2"}).text
    assert set(_names(first)) | set(_names(second)) == set(repos) and len(_names(second)) == 2

    web.login(bob.name)
    favourite = repos[5]
    assert web.post(f"/{favourite}/like", {}).status_code == 303
    by_likes = web.get("/models", params={"owner": alice.name, "sort": "likes"}).text
    assert _names(by_likes)[0] == favourite


def test_home_lists_public_models_and_datasets(web: WebClient, make_user, make_repo) -> None:
    alice = make_user("alice")
    model = make_repo(alice, empty=False)
    dataset = make_repo(alice, repo_type="dataset", empty=False)
    hidden = make_repo(alice, private=True, empty=False)
    home = web.get("/").text
    assert f'href="/{model}"' in home and f'href="/datasets/{dataset}"' in home
    assert hidden not in home
    assert 'action="/models"' in home  # the search box
