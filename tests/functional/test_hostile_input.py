"""Input an attacker would send gets a clear 4xx: control bytes in URLs, malformed bodies,
numbers past 64 bits, oversized chunked bodies. Never a 500, never a dropped connection, and
never a header that carries the input unescaped."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from repohub.api.headers import is_header_safe
from tests.functional.test_git_transfer import remote
from tests.support.gitcli import Git
from tests.support.stack import Server

HUGE = "1" + "0" * 29  # 30 digits: past any 64-bit column
LFS = {"Content-Type": "application/vnd.git-lfs+json", "Accept": "application/vnd.git-lfs+json"}
# Each breaks a header if echoed: NUL, CR, LF, a CR LF header injection, DEL, non-ASCII.
HOSTILE = ["%00", "%0D", "%0A", "x%0D%0AX-Injected:%20yes", "%7F", "caf%C3%A9%00"]


@pytest.fixture
def public_repo(server: Server, make_user, make_repo, git: Git, tmp_path) -> str:  # type: ignore[no-untyped-def]
    alice = make_user("alice")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"a.txt": "a"})
    git("push", remote(server, repo, alice), "main", cwd=src)
    return repo


def _assert_clean(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.request.url, r.status_code, r.text[:300])
    for name, value in r.headers.raw:
        assert is_header_safe(value), (name, value)
    assert "x-injected" not in r.headers


def _urls(repo: str, bad: str) -> Iterator[str]:
    owner, name = repo.split("/")
    yield f"/api/models/{repo}/revision/{bad}"
    yield f"/api/models/{repo}/tree/{bad}"
    yield f"/api/models/{repo}/tree/main/{bad}"
    yield f"/{repo}/resolve/{bad}/a.txt"
    yield f"/{repo}/resolve/main/{bad}"
    yield f"/{repo}/raw/main/{bad}"
    yield f"/api/models/{repo}/compare/{bad}...main"
    yield f"/api/models/{repo}/compare/main...{bad}"
    yield f"/api/models/{owner}/{bad}"
    yield f"/api/models/{bad}/{name}/revision/main"
    yield f"/{repo}/tree/{bad}"
    yield f"/{repo}/blob/main/{bad}"
    yield f"/{repo}/commits/{bad}"
    yield f"/{repo}/compare/{bad}...main"
    yield f"/{repo}/info/refs?service={bad}"
    yield f"/{repo}/jobs?ref={bad}"
    yield f"/api/models?search={bad}"
    yield f"/models?search={bad}"


@pytest.mark.parametrize("bad", HOSTILE)
def test_control_bytes_in_urls_get_an_answer_with_safe_headers(
    api: httpx.Client, public_repo: str, bad: str
) -> None:
    for url in _urls(public_repo, bad):
        for accept in ("application/json", "text/html"):
            _assert_clean(api.get(url, headers={"Accept": accept}))


def test_revision_nul_is_a_client_error(api: httpx.Client, public_repo: str) -> None:
    r = api.get(f"/api/models/{public_repo}/revision/%00")
    assert 400 <= r.status_code < 500
    assert "\x00" not in r.headers.get("x-error-message", "")


@pytest.mark.parametrize(
    "body",
    ['{"paths": ', '{"paths": 5}', '{"paths": [1, {}]}', "[1, 2]", '"x"', "\xff\xfe"],
)
def test_paths_info_malformed_json_is_422(api: httpx.Client, public_repo: str, body: str) -> None:
    r = api.post(
        f"/api/models/{public_repo}/paths-info/main",
        content=body.encode("latin-1"),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert "invalid request" in r.json()["error"]


def _lfs(repo: str, tail: str) -> str:
    return f"/{repo}.git/info/lfs/{tail}"


@pytest.mark.parametrize(
    ("tail", "body", "field"),
    [
        ("objects/batch", {"operation": "download", "transfers": 5, "objects": []}, "transfers"),
        ("objects/batch", {"operation": "download", "objects": 5}, "objects"),
        ("objects/batch", {"operation": 7, "objects": []}, "operation"),
        ("objects/batch", {"operation": "upload", "objects": [], "ref": "main"}, "ref"),
        ("locks", {"path": "a.bin", "ref": "main"}, "ref"),
        ("locks", {"path": ["a.bin"]}, "path"),
        ("locks/verify", {"cursor": {"a": 1}}, "cursor"),
        ("locks/verify", {"limit": int(HUGE)}, "limit"),
        ("locks/1/unlock", {"force": {"x": 1}}, "force"),
    ],
)
def test_lfs_malformed_bodies_are_422_naming_the_field(
    api: httpx.Client, make_user, make_repo, tail: str, body: dict, field: str
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    r = api.post(_lfs(repo, tail), content=json.dumps(body), headers={**LFS, **alice.auth})
    assert r.status_code == 422, r.text
    assert field in r.json()["message"]
    assert r.headers["content-type"].startswith("application/vnd.git-lfs+json")


def test_lfs_body_that_is_not_json_is_422(api: httpx.Client, make_user, make_repo) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    for raw in (b'{"operation": ', b"\xff\x00", b"[" * 100_000):
        r = api.post(_lfs(repo, "objects/batch"), content=raw, headers={**LFS, **alice.auth})
        assert r.status_code == 422, r.text
        assert "not valid JSON" in r.json()["message"]


def test_lfs_object_size_past_64_bits_is_refused_per_object(
    api: httpx.Client, make_user, make_repo
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    body = {"operation": "upload", "objects": [{"oid": "a" * 64, "size": int(HUGE)}]}
    r = api.post(_lfs(repo, "objects/batch"), json=body, headers={**LFS, **alice.auth})
    assert r.status_code == 200
    assert r.json()["objects"][0]["error"]["code"] == 422


@pytest.mark.parametrize(
    "url",
    [
        f"/api/jobs/{HUGE}",
        f"/api/jobs/{HUGE}/logs",
        "/api/jobs/1/logs?after=" + HUGE,
        "/api/jobs?offset=" + HUGE,
        f"/api/jobs/{HUGE}/report",
        f"/jobs/{HUGE}",
        f"/jobs/{HUGE}/report",
    ],
)
def test_numbers_past_64_bits_are_client_errors(api: httpx.Client, make_user, url: str) -> None:
    alice = make_user("alice")
    r = api.get(url, headers=alice.auth)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


@pytest.mark.parametrize("query", [f"id={HUGE}", f"cursor={HUGE}", f"limit={HUGE}", "id=-5"])
def test_lock_listing_numbers_past_64_bits(
    api: httpx.Client, make_user, make_repo, query: str
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    r = api.get(_lfs(repo, f"locks?{query}"), headers={**LFS, **alice.auth})
    assert r.status_code in (400, 422), r.text


def test_unlock_with_huge_lock_id(api: httpx.Client, make_user, make_repo) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    r = api.post(_lfs(repo, f"locks/{HUGE}/unlock"), json={}, headers={**LFS, **alice.auth})
    assert r.status_code in (400, 404, 422), r.text


def test_token_revoke_with_huge_id(api: httpx.Client, make_user) -> None:
    alice = make_user("alice")
    r = api.delete(f"/api/tokens/{HUGE}", headers=alice.auth)
    assert r.status_code == 422, r.text


def test_nul_in_a_json_string_is_422(api: httpx.Client, make_user) -> None:
    alice = make_user("alice")
    r = api.post("/api/tokens", json={"name": "a\x00b", "scope": "read"}, headers=alice.auth)
    assert r.status_code == 422, r.text
    assert "name" in r.json()["error"]


def _chunked(total: int, piece: int = 1024 * 1024) -> Iterator[bytes]:
    sent = 0
    yield b'{"name": "'
    while sent < total:
        yield b"a" * piece
        sent += piece
    yield b'"}'


def test_chunked_body_over_the_limit_is_413(api: httpx.Client, make_user, stack) -> None:
    alice = make_user("alice")
    limit = stack.settings().max_request_body_bytes
    r = api.post(
        "/api/repos/create",
        content=_chunked(limit + 1024 * 1024),
        headers={**alice.auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert "limit" in r.json()["error"]


def test_chunked_body_under_the_limit_still_works(api: httpx.Client, make_user) -> None:
    alice = make_user("alice")
    body = json.dumps({"name": "chunked-ok", "type": "model", "empty": True}).encode()
    r = api.post(
        "/api/repos/create",
        content=iter([body[:10], body[10:]]),
        headers={**alice.auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text


def test_lone_surrogate_in_json_is_422_not_a_crash(api: httpx.Client, make_user, make_repo) -> None:
    """JSON may spell a lone surrogate (`\\udcff`); echoed into a UTF-8 answer it would crash."""
    alice = make_user("alice")
    repo = make_repo(alice)
    r = api.post(
        "/api/repos/create",
        content=b'{"name": "\\udcff", "type": "model"}',
        headers={**alice.auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    batch = b'{"operation": "download", "objects": [{"oid": "\\udcff", "size": 1}]}'
    r = api.post(_lfs(repo, "objects/batch"), content=batch, headers={**LFS, **alice.auth})
    assert r.status_code == 422, r.text
