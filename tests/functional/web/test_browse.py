"""Browsing a repo in the web: card, tree, files, LFS and safetensors, history, 404s, 403s."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from tests.conftest import User
from tests.functional.test_git_transfer import remote
from tests.functional.web.conftest import WebClient
from tests.support.gitcli import Git
from tests.support.stack import Server

CARD = """---
license: apache-2.0
library_name: transformers
pipeline_tag: text-classification
tags: [sentiment, english]
datasets: [imdb]
metrics: [accuracy]
---
# Sentiment classifier

Classifies movie reviews as positive or negative. See [the notes](docs/notes.md).

![curve](images/curve.png)

```python
from transformers import pipeline
```
"""
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)


def safetensors_bytes(tensors: dict[str, tuple[str, list[int]]], data: bytes = b"") -> bytes:
    """A safetensors file whose header names `tensors`; `data` need not match (see tests)."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = 4
        for d in shape:
            size *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


WEIGHTS_V1 = safetensors_bytes({"a.weight": ("F32", [4, 4])}, b"\0" * 64)
WEIGHTS_V2 = safetensors_bytes({"a.weight": ("F32", [4, 4]), "b.bias": ("F16", [3])}, b"\0" * 70)


@pytest.fixture
def lfs_git(git: Git) -> Git:
    git("lfs", "install", "--skip-repo")
    return git


@pytest.fixture
def model_repo(server: Server, make_user, make_repo, lfs_git: Git, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A public model: card, code, an image, LFS weights, two commits, a tag and a branch."""
    alice = make_user("alice")
    repo = make_repo(alice)
    src = tmp_path / "src"
    src.mkdir()
    lfs_git("init", "-q", "-b", "main", str(src))
    lfs_git("lfs", "track", "*.safetensors", cwd=src)
    lfs_git.commit(
        src,
        {
            "README.md": CARD,
            "src/train.py": "import torch\n\nprint('hello')\n",
            "images/curve.png": PNG,
            "model.safetensors": WEIGHTS_V1,
            "docs/notes.md": "# Notes\n",
        },
        "First version",
    )
    lfs_git("tag", "v1", cwd=src)
    lfs_git.commit(
        src,
        {
            "src/train.py": "import torch\n\nprint('hello, world')\n",
            "model.safetensors": WEIGHTS_V2,
        },
        "Train longer",
    )
    lfs_git("branch", "feat/x", cwd=src)
    lfs_git("push", remote(server, repo, alice), "main", "feat/x", "v1", cwd=src)
    return alice, repo


def test_repo_page_renders_card_tree_and_metadata(web: WebClient, model_repo) -> None:
    _, repo = model_repo
    page = web.get(f"/{repo}")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Sentiment classifier</h1>" in html
    assert f'href="/{repo}/blob/main/docs/notes.md"' in html  # relative links rebased
    assert f'src="/{repo}/resolve/main/images/curve.png"' in html
    assert '<span class="kn">from</span>' in html  # highlighted code fence
    for fact in ("text-classification", "transformers", "apache-2.0", "imdb", "accuracy"):
        assert fact in html
    assert "git clone http://" in html and f"/{repo}</code>" in html
    assert "Train longer" in html  # latest commit
    row = re.search(r"model\.safetensors</a><td>([^<]+)<td>(.*)", html)
    assert row and row.group(1) == f"{len(WEIGHTS_V2)} B" and "LFS" in row.group(2)
    assert f'href="/{repo}/tree/feat%2Fx"' in html  # switcher: branch names as one segment
    assert f'href="/{repo}/tree/v1"' in html


def test_tree_and_file_views(web: WebClient, model_repo) -> None:
    _, repo = model_repo
    tree = web.get(f"/{repo}/tree/main/src")
    assert tree.status_code == 200 and f'href="/{repo}/blob/main/src/train.py"' in tree.text
    assert web.get(f"/{repo}/tree/feat%2Fx/src").status_code == 200
    assert web.get(f"/{repo}/tree/v1").status_code == 200

    code = web.get(f"/{repo}/blob/main/src/train.py").text
    assert 'id="L-3"' in code and '<span class="nb">print</span>' in code

    md = web.get(f"/{repo}/blob/main/docs/notes.md").text
    assert "<h1>Notes</h1>" in md
    image = web.get(f"/{repo}/blob/main/images/curve.png").text
    assert f'<img src="/{repo}/resolve/main/images/curve.png"' in image

    weights = web.get(f"/{repo}/blob/main/model.safetensors").text
    assert "Git LFS" in weights and "SHA256" in weights
    assert f'href="/{repo}/resolve/main/model.safetensors"' in weights
    assert "<strong>19</strong>" in weights  # 4*4 + 3 parameters, from the header
    assert "b.bias" in weights and "F16" in weights

    assert web.get(f"/{repo}/blob/main/nope.txt").status_code == 404
    assert web.get(f"/{repo}/tree/no-such-branch").status_code == 404


def test_safetensors_summary_reads_only_the_header(
    server: Server, web: WebClient, make_user, make_repo, lfs_git: Git, tmp_path: Path
) -> None:
    """The header promises 7 billion parameters; the file holds 4 kB. Summarising it is only
    possible without reading the weights (a full load would fail on the missing bytes)."""
    alice = make_user("alice")
    repo = make_repo(alice)
    src = tmp_path / "src"
    src.mkdir()
    lfs_git("init", "-q", "-b", "main", str(src))
    lfs_git("lfs", "track", "*.safetensors", cwd=src)
    huge = safetensors_bytes({"embed": ("BF16", [70000, 100000])}, b"\0" * 4096)
    lfs_git.commit(src, {"huge.safetensors": huge}, "promise a lot")
    lfs_git("push", remote(server, repo, alice), "main", cwd=src)
    page = web.get(f"/{repo}/blob/main/huge.safetensors").text
    assert "<strong>7,000,000,000</strong>" in page and "BF16" in page


def test_commits_and_a_commit_diff(web: WebClient, model_repo) -> None:
    _, repo = model_repo
    log = web.get(f"/{repo}/commits/main").text
    assert log.index("Train longer") < log.index("First version")
    sha = re.search(rf'href="/{repo}/commit/([0-9a-f]{{40}})">Train longer', log).group(1)  # type: ignore[union-attr]

    diff = web.get(f"/{repo}/commit/{sha}").text
    assert '<tr class="del"><td class="ln">3</td><td class="ln"></td>' in diff
    assert '<tr class="add"><td class="ln"></td><td class="ln">3</td>' in diff
    assert "print(&#39;hello, world&#39;)" in diff
    lfs = diff[diff.index("model.safetensors") :]
    assert "Git LFS object" in lfs  # summarised as old → new size and sha256
    assert f"{len(WEIGHTS_V1)} B → {len(WEIGHTS_V2)} B" in lfs
    assert len(re.findall(r'<code class="hash">[0-9a-f]{64}</code>', lfs)) == 2
    assert web.get(f"/{repo}/commit/{sha[:10]}").status_code == 200
    assert web.get(f"/{repo}/commit/{'0' * 40}").status_code == 404


def test_commit_log_is_paged(
    server: Server, web: WebClient, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"n.txt": "0"}, message="commit 0")
    for i in range(1, 35):
        git.commit(src, {"n.txt": str(i)}, f"commit {i}")
    git("push", remote(server, repo, alice), "main", cwd=src)
    first = web.get(f"/{repo}/commits/main").text
    assert first.count('class="commit-title"') == 30 and "commit 34" in first
    assert 'rel="next"' in first
    second = web.get(f"/{repo}/commits/main?p=2").text
    assert second.count('class="commit-title"') == 5 and ">commit 0<" in second
    assert 'rel="next"' not in second and 'rel="prev"' in second


def test_branches_and_tags(web: WebClient, model_repo) -> None:
    _, repo = model_repo
    branches = web.get(f"/{repo}/branches").text
    assert ">main</a>" in branches and ">feat/x</a>" in branches and "default" in branches
    tags = web.get(f"/{repo}/tags").text
    assert ">v1</a>" in tags and "First version" in tags


def _comparable(html: str) -> str:
    """A page with what differs per browser (CSRF token, asset version) blanked out."""
    html = re.sub(r'name="csrf" value="[^"]+"', "", html)
    return re.sub(r"app\.css\?v=\w+", "app.css", html)


def test_private_and_missing_repos_are_the_same_404(
    web: WebClient, other_web: WebClient, make_user, make_repo
) -> None:
    owner, stranger = make_user("owner"), make_user("stranger")
    private = make_repo(owner, private=True, empty=False)
    missing = f"{owner.name}/never-created"
    other_web.login(stranger.name)
    for client in (web, other_web):
        for suffix in (
            "",
            "/tree/main",
            "/blob/main/README.md",
            "/commits/main",
            "/branches",
            "/settings",
            "/fork",
        ):
            a, b = client.get(f"/{private}{suffix}"), client.get(f"/{missing}{suffix}")
            if suffix in ("/settings", "/fork") and client is web:
                assert a.status_code == b.status_code == 303  # log in first, for both
                continue
            assert a.status_code == b.status_code == 404, suffix
            assert _comparable(a.text) == _comparable(b.text).replace(missing, private)
    assert "Not found" in web.get(f"/{private}").text
    web.login(owner.name)
    assert web.get(f"/{private}").status_code == 200


def test_visible_but_refused_actions_are_403(web: WebClient, make_user, make_repo) -> None:
    owner, stranger = make_user("owner"), make_user("stranger")
    repo = make_repo(owner, empty=False)
    web.login(stranger.name)
    settings = web.get(f"/{repo}/settings")
    assert settings.status_code == 403 and "administer" in settings.text
    for action, data in (
        ("visibility", {"value": "private"}),
        ("delete", {"confirm": repo}),
        ("collaborators", {"username": stranger.name, "role": "admin"}),
    ):
        r = web.post(f"/{repo}/settings/{action}", data)
        assert r.status_code == 403, action
    assert web.get(f"/{repo}").status_code == 200


def test_profiles_list_what_the_viewer_may_see(web: WebClient, api, make_user, make_repo) -> None:  # type: ignore[no-untyped-def]
    alice: User = make_user("alice")
    public = make_repo(alice)
    hidden = make_repo(alice, private=True)
    dataset = make_repo(alice, repo_type="dataset")
    org = f"org{alice.name}"
    assert api.post("/api/organizations", json={"name": org}, headers=alice.auth).status_code == 200

    page = web.get(f"/{alice.name}").text
    assert public in page and f"/datasets/{dataset}" in page and hidden not in page
    assert f'href="/{org}"' in page
    org_page = web.get(f"/{org}").text
    assert "Members" in org_page and f'href="/{alice.name}"' in org_page and "admin" in org_page
    web.login(alice.name)
    assert hidden in web.get(f"/{alice.name}").text
    assert web.get("/no-such-user-here").status_code == 404
