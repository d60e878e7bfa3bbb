"""The CAS over HTTP with bodies built by hand (tests/support/xetwire.py): what a hostile or
broken client can send, each refused with a 4xx that says why and nothing registered; tokens
and transfer URLs that allow exactly what they say; private files invisible through Xet."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from repohub.auth import cas_tokens
from repohub.db.models import LfsObject
from repohub.db.xet import XetDedupChunk, XetFile, XetFileGrant, XetXorb
from repohub.objects.xet.hashes import chunk_hash, keyed, to_hex, verification_hash
from repohub.objects.xet.shards import FileEntry, FileTerm, parse_shard
from repohub.repos.context import Hub
from tests.conftest import User
from tests.support.xetwire import Term, file_entry, make_xorb, shard, split, whole_file

CAS = "/xet-cas"


def xet_token(api: httpx.Client, user: User | None, repo: str, kind: str = "write") -> str:
    r = api.get(f"/api/models/{repo}/xet-{kind}-token/main", headers=user.auth if user else {})
    assert r.status_code == 200, r.text
    assert r.headers["x-xet-access-token"] == r.json()["accessToken"]
    return str(r.json()["accessToken"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_xorb(api: httpx.Client, token: str, name: bytes, body: bytes) -> httpx.Response:
    return api.post(f"{CAS}/v1/xorbs/default/{to_hex(name)}", content=body, headers=bearer(token))


def post_shard(api: httpx.Client, token: str, data: bytes) -> httpx.Response:
    return api.post(f"{CAS}/v1/shards", content=data, headers=bearer(token))


def commit_lfs(
    api: httpx.Client, user: User, repo: str, oid: str, size: int, path: str = "w.bin"
) -> httpx.Response:
    lines = [
        {"key": "header", "value": {"summary": f"Add {path}"}},
        {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}},
    ]
    return api.post(
        f"/api/models/{repo}/commit/main",
        content=b"\n".join(json.dumps(line).encode() for line in lines),
        headers={**user.auth, "Content-Type": "application/x-ndjson"},
    )


def refused(r: httpx.Response, status: int, words: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert words in r.json()["error"], r.text


def counts(hub: Hub) -> dict[str, int]:
    with hub.sessions() as session:
        return {
            table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
            for table in (XetXorb, XetFile, XetFileGrant, XetDedupChunk, LfsObject)
        }


@pytest.fixture
def owner(make_user) -> User:
    return make_user("cas")


@pytest.fixture
def repo(owner: User, make_repo) -> str:
    return str(make_repo(owner, empty=False))


def test_a_hand_built_upload_commits_and_reads_back(
    api: httpx.Client, owner: User, repo: str
) -> None:
    data = os.urandom(300_000)
    body, xorb, shard_bytes, _ = whole_file(data)
    token = xet_token(api, owner, repo)
    assert post_xorb(api, token, xorb.hash, body).json() == {"was_inserted": True}
    assert post_xorb(api, token, xorb.hash, body).json() == {"was_inserted": False}
    assert post_shard(api, token, shard_bytes).json() == {"result": 1}
    oid = hashlib.sha256(data).hexdigest()
    r = commit_lfs(api, owner, repo, oid, len(data))
    assert r.status_code == 200, r.text
    assert api.get(f"/{repo}/resolve/main/w.bin").content == data

    # A ranged reconstruction names whole chunks and where the range starts in the first.
    read = xet_token(api, owner, repo, "read")
    file_hex = api.head(f"/{repo}/resolve/main/w.bin").headers["x-xet-hash"]
    r = api.get(
        f"{CAS}/v1/reconstructions/{file_hex}",
        headers={**bearer(read), "Range": "bytes=20000-40000"},
    )
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["offset_into_first_range"] == 20000 - 16384
    assert [t["range"] for t in plan["terms"]] == [{"start": 1, "end": 3}]
    (fetch,) = plan["fetch_info"][to_hex(xorb.hash)]
    first, last = fetch["url_range"]["start"], fetch["url_range"]["end"]
    assert (first, last + 1) == xorb.byte_range(1, 3)
    got = api.get(fetch["url"], headers={"Range": f"bytes={first}-{last}"})
    assert got.status_code == 206 and got.content == body[first : last + 1]

    # The URL serves exactly those bytes: not another range, not another xorb, not altered.
    refused(api.get(fetch["url"], headers={"Range": f"bytes=0-{last}"}), 403, "serves bytes")
    refused(api.get(fetch["url"], headers={"Range": f"bytes={first}-{last + 1}"}), 403, "only")
    forged = fetch["url"].replace(f"r={first}-{last}", f"r=0-{last}")
    assert api.get(forged, headers={"Range": f"bytes=0-{last}"}).status_code == 403
    other = fetch["url"].replace(to_hex(xorb.hash), "ab" * 32, 1)
    assert api.get(other).status_code == 403
    # A range past the end of the file is a 416; a range that is not one is a 400.
    refused(
        api.get(
            f"{CAS}/v1/reconstructions/{file_hex}",
            headers={**bearer(read), "Range": f"bytes={len(data)}-"},
        ),
        416,
        "file has",
    )
    refused(
        api.get(
            f"{CAS}/v1/reconstructions/{file_hex}",
            headers={**bearer(read), "Range": "bytes=5-1"},
        ),
        400,
        "ends before",
    )


def _flip(body: bytes, at: int) -> bytes:
    damaged = bytearray(body)
    damaged[at] ^= 0xFF
    return bytes(damaged)


def test_xorbs_that_lie_are_400_and_not_stored(
    api: httpx.Client, hub: Hub, owner: User, repo: str
) -> None:
    body, xorb, _, _ = whole_file(os.urandom(100_000))
    token = xet_token(api, owner, repo)
    before = counts(hub)
    refused(post_xorb(api, token, xorb.hash, _flip(body, 500)), 400, "hash to")
    refused(post_xorb(api, token, xorb.hash, _flip(body, 0)), 400, "header version")
    refused(post_xorb(api, token, xorb.hash, body[:-10]), 400, "body ends after")
    refused(post_xorb(api, token, xorb.hash, b""), 400, "no chunk")
    bad = api.post(f"{CAS}/v1/xorbs/default/XYZ", content=body, headers=bearer(token))
    refused(bad, 400, "64 lowercase hex")
    assert counts(hub) == before
    assert not hub.xet.has_xorb(to_hex(xorb.hash))


def _uploaded(api: httpx.Client, token: str, data: bytes):  # type: ignore[no-untyped-def]
    body, xorb = make_xorb(split(data, 16_384))
    assert post_xorb(api, token, xorb.hash, body).status_code == 200
    return xorb


def _lie(entry: FileEntry, **changes: Any) -> FileEntry:
    return dataclasses.replace(entry, **changes)


def test_shards_that_lie_are_400_and_register_nothing(
    api: httpx.Client, hub: Hub, owner: User, repo: str
) -> None:
    data = os.urandom(80_000)
    token = xet_token(api, owner, repo)
    xorb = _uploaded(api, token, data)
    good = file_entry([Term(xorb, 0, 5)], data)
    term = good.terms[0]
    _, missing = make_xorb([b"never uploaded"])
    absent = file_entry([Term(missing, 0, 1)], b"never uploaded")
    cases = [
        (shard([absent], []), "does not exist"),
        (shard([good], [missing]), "never uploaded"),
        (shard([_lie(good, terms=(dataclasses.replace(term, chunk_end=9),))], []), "outside"),
        (
            shard([_lie(good, terms=(dataclasses.replace(term, unpacked_bytes=1),))], []),
            "unpacked bytes",
        ),
        (shard([_lie(good, verification=(bytes(32),))], []), "wrong verification"),
        (shard([_lie(good, verification=None)], []), "needs a verification"),
        (shard([_lie(good, file_hash=chunk_hash(b"other"))], []), "its chunks hash to"),
        (shard([good], [])[:-20], "invalid shard"),
        (b"not a shard at all" * 4, "shard tag"),
    ]
    before = counts(hub)
    for data_, words in cases:
        refused(post_shard(api, token, data_), 400, words)
    assert counts(hub) == before, "nothing registered"
    assert post_shard(api, token, shard([good], [xorb])).status_code == 200


def test_an_lfs_file_whose_bytes_are_not_its_sha256_is_422(
    api: httpx.Client, hub: Hub, owner: User, repo: str
) -> None:
    """The sha256 in a shard is only the client's word: the commit rebuilds the file and
    hashes it before the oid exists anywhere."""
    data, claimed = os.urandom(50_000), os.urandom(50_000)
    token = xet_token(api, owner, repo)
    xorb = _uploaded(api, token, data)
    entry = file_entry([Term(xorb, 0, len(xorb.raw_sizes))], claimed)  # claims claimed's sha
    assert post_shard(api, token, shard([entry], [])).status_code == 200
    before = api.get(f"/api/models/{repo}/refs").json()
    oid = hashlib.sha256(claimed).hexdigest()
    refused(commit_lfs(api, owner, repo, oid, len(data)), 422, "rebuilds to bytes with sha256")
    assert api.get(f"/api/models/{repo}/refs").json() == before
    with hub.sessions() as session:
        assert session.get(LfsObject, oid) is None


def test_tokens_allow_what_they_say_and_no_more(
    api: httpx.Client, hub: Hub, owner: User, repo: str, make_user, make_repo
) -> None:
    data = os.urandom(40_000)
    body, xorb, shard_bytes, _ = whole_file(data)
    read = xet_token(api, owner, repo, "read")
    refused(post_xorb(api, read, xorb.hash, body), 403, "read-only")
    refused(post_shard(api, read, shard_bytes), 403, "read-only")

    secret = hub.settings.resolved_secret_key()
    grant = cas_tokens.read(secret, xet_token(api, owner, repo))
    expired = cas_tokens.issue(secret, dataclasses.replace(grant, expires=int(time.time()) - 1))
    refused(post_xorb(api, expired, xorb.hash, body), 401, "expired")
    forged = cas_tokens.issue("another install's secret", grant)
    assert post_xorb(api, forged, xorb.hash, body).status_code == 401
    assert post_xorb(api, owner.token, xorb.hash, body).status_code == 401, "a Hub token"
    assert api.post(f"{CAS}/v1/shards", content=shard_bytes).status_code == 401

    # A write token needs write access; a reader of someone else's repo gets a read token.
    stranger = make_user("stranger")
    r = api.get(f"/api/models/{repo}/xet-write-token/main", headers=stranger.auth)
    assert r.status_code == 403, r.text
    assert xet_token(api, stranger, repo, "read")
    # Pull-request uploads wait for pull requests, and say so.
    r = api.get(f"/api/models/{repo}/xet-write-token/None?create_pr=1", headers=owner.auth)
    refused(r, 422, "pull requests")

    # A token for another repo's network reads nothing of this one.
    write = xet_token(api, owner, repo)
    assert post_xorb(api, write, xorb.hash, body).status_code == 200
    assert post_shard(api, write, shard_bytes).status_code == 200
    file_hex = to_hex(parse_shard(shard_bytes).files[0].file_hash)
    theirs = xet_token(api, stranger, str(make_repo(stranger, empty=False)), "read")
    r = api.get(f"{CAS}/v1/reconstructions/{file_hex}", headers=bearer(theirs))
    refused(r, 404, "not found")
    r = api.get(f"{CAS}/v1/reconstructions/{file_hex}", headers=bearer(read))
    assert r.status_code == 200, r.text


def test_private_files_are_invisible_through_xet(api: httpx.Client, make_user, make_repo) -> None:
    """A file only a private repo holds: its owner's read token rebuilds it; a read token
    for a public repo cannot, even with the file hash; anyone else gets no token for the
    private repo; and a dedup answer shows only keyed chunk hashes."""
    alice, bob = make_user("alice"), make_user("bob")
    secret_repo = str(make_repo(alice, private=True, empty=False))
    public_repo = str(make_repo(bob, empty=False))
    data = os.urandom(200_000)
    body, xorb, shard_bytes, entry = whole_file(data)
    token = xet_token(api, alice, secret_repo)
    assert post_xorb(api, token, xorb.hash, body).status_code == 200
    assert post_shard(api, token, shard_bytes).status_code == 200
    file_hex = to_hex(entry.file_hash)

    r = api.get(f"/api/models/{secret_repo}/xet-read-token/main", headers=bob.auth)
    assert r.status_code == 404, r.text
    assert api.get(f"/api/models/{secret_repo}/xet-read-token/main").status_code in (401, 404)
    for reader in (
        xet_token(api, bob, public_repo, "read"),
        xet_token(api, None, public_repo, "read"),
    ):
        r = api.get(f"{CAS}/v1/reconstructions/{file_hex}", headers=bearer(reader))
        refused(r, 404, "not found")
    own = xet_token(api, alice, secret_repo, "read")
    assert api.get(f"{CAS}/v1/reconstructions/{file_hex}", headers=bearer(own)).status_code == 200

    # Global dedup: bob, holding the first chunk, learns the xorb, but only keyed hashes.
    first = xorb.chunk_hashes[0]
    r = api.get(
        f"{CAS}/v1/chunks/default/{to_hex(first)}",
        headers=bearer(xet_token(api, bob, public_repo)),
    )
    assert r.status_code == 200, r.text
    answer = parse_shard(r.content)
    assert answer.footer is not None and answer.footer.key_expiry > time.time()
    (listed,) = answer.xorbs
    assert listed.xorb_hash == xorb.hash
    shown = [c.hash for c in listed.chunks]
    assert shown[0] == keyed(answer.footer.hmac_key, first), "bob can match what he holds"
    assert not set(shown) & set(xorb.chunk_hashes), "no raw chunk hash is revealed"
    unknown = api.get(
        f"{CAS}/v1/chunks/default/{to_hex(chunk_hash(b'nobody has this'))}",
        headers=bearer(xet_token(api, bob, public_repo)),
    )
    assert unknown.status_code == 404

    # ...and claiming alice's chunks without holding them fails the proof.
    write = xet_token(api, bob, public_repo)
    guessed = FileEntry(
        entry.file_hash,
        (FileTerm(xorb.hash, xorb.raw_bytes, 0, len(shown)),),
        (verification_hash(shown),),
        entry.sha256,
    )
    refused(post_shard(api, write, shard([guessed], [])), 400, "wrong verification")
    bob_reads = xet_token(api, bob, public_repo, "read")
    r = api.get(f"{CAS}/v1/reconstructions/{file_hex}", headers=bearer(bob_reads))
    assert r.status_code == 404, "still invisible"


def test_duplicate_grants_only_what_the_caller_may_read_and_write(
    api: httpx.Client, hub: Hub, owner: User, repo: str, make_user, make_repo
) -> None:
    data = os.urandom(60_000)
    body, xorb, shard_bytes, entry = whole_file(data)
    token = xet_token(api, owner, repo)
    assert post_xorb(api, token, xorb.hash, body).status_code == 200
    assert post_shard(api, token, shard_bytes).status_code == 200
    oid = hashlib.sha256(data).hexdigest()
    assert commit_lfs(api, owner, repo, oid, len(data)).status_code == 200
    file_hex = to_hex(entry.file_hash)

    bob = make_user("bob")
    mine = str(make_repo(bob, empty=False))
    theirs = str(make_repo(make_user("carol"), empty=False))

    def duplicate(src: str, target: str, files: list[dict[str, Any]]) -> httpx.Response:
        return api.post(
            f"/api/models/{src}/lfs-files/duplicate",
            json={"target": {"type": "model", "name": target}, "files": files},
            headers=bob.auth,
        )

    wanted = [{"sha256": oid, "xetHash": file_hex, "filename": "w.bin"}]
    refused(duplicate(repo, theirs, wanted), 403, "")
    missing = [{"sha256": "e" * 64, "filename": "x"}, {"sha256": oid, "xetHash": "a" * 64}]
    r = duplicate(repo, mine, missing)
    assert r.status_code == 200, r.text
    assert [f["sha256"] for f in r.json()["failed"]] == ["e" * 64, oid]
    assert "no such LFS file" in r.json()["failed"][0]["error"]
    refused(commit_lfs(api, bob, mine, oid, len(data)), 422, "never uploaded")
    for bad in ({"target": {"name": mine}}, {"target": {"name": "x"}, "files": []}):
        r = api.post(f"/api/models/{repo}/lfs-files/duplicate", json=bad, headers=bob.auth)
        assert 400 <= r.status_code < 500, r.text
    r = duplicate(repo, mine, [{"sha256": "NOT-HEX"}])
    assert r.status_code == 422, r.text

    r = duplicate(repo, mine, wanted)
    assert r.status_code == 200 and r.json() == {"failed": []}, r.text
    lines = [
        {"key": "header", "value": {"summary": "Copy"}},
        {"key": "lfsFile", "value": {"path": "copied.bin", "algo": "sha256", "oid": oid}},
    ]
    r = api.post(
        f"/api/models/{mine}/commit/main",
        content=b"\n".join(json.dumps(line).encode() for line in lines),
        headers={**bob.auth, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    assert api.get(f"/{mine}/resolve/main/copied.bin").content == data
    reads = xet_token(api, bob, mine, "read")
    assert api.get(f"{CAS}/v1/reconstructions/{file_hex}", headers=bearer(reads)).status_code == 200

    # A private source is a 404 to whoever cannot read it, as everywhere.
    hidden = str(make_repo(owner, private=True, empty=False))
    refused(duplicate(hidden, mine, wanted), 404, "")
