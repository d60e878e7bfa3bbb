"""The git and Git LFS routes (outside the OpenAPI schema), fuzzed with hypothesis.

git: pkt-line streams built from real commands, broken lengths, flush and delimiter packets,
capability lists and pack headers, sent to upload-pack (v0 and v2) and receive-pack. LFS:
batch, lock and verify bodies, from near-valid shapes to arbitrary JSON and bytes. Each
answer must be below 500 (git refuses in band with 200), the connection must hold, refs must
not move after a refused push, and the server must be healthy afterwards.
"""

from __future__ import annotations

import json
import struct

import httpx
from hypothesis import given
from hypothesis import strategies as st

from tests.functional.fuzz.conftest import BOUNDED, Target, assert_healthy
from tests.support.stack import Server

ZERO = "0" * 40
HEX = st.text(alphabet="0123456789abcdef", min_size=0, max_size=44)
LFS = {"Content-Type": "application/vnd.git-lfs+json", "Accept": "application/vnd.git-lfs+json"}


def pkt(payload: bytes) -> bytes:
    return f"{len(payload) + 4:04x}".encode() + payload


def _lines(head: str) -> st.SearchStrategy[bytes]:
    """One pkt-line: a real command with generated arguments, or something broken."""
    sha = st.one_of(st.just(head), st.just(ZERO), HEX)
    caps = st.lists(
        st.sampled_from(
            [b"report-status", b"side-band-64k", b"ofs-delta", b"agent=x", b"quiet", b"atomic"]
        ),
        max_size=4,
    ).map(b" ".join)
    command = st.one_of(
        st.builds(lambda s: f"want {s}\n".encode(), sha),
        st.builds(lambda s: f"have {s}\n".encode(), sha),
        st.builds(lambda s: f"shallow {s}\n".encode(), sha),
        st.builds(lambda n: f"deepen {n}\n".encode(), st.integers(-(2**70), 2**70)),
        st.sampled_from(
            [b"done\n", b"command=fetch\n", b"command=ls-refs\n", b"object-format=sha1\n"]
        ),
        st.builds(
            lambda a, b, ref, c: f"{a} {b} {ref}".encode() + b"\0" + c + b"\n",
            sha,
            sha,
            st.sampled_from(["refs/heads/main", "refs/heads/x", "refs/tags/..", "HEAD", ""]),
            caps,
        ),
        st.binary(max_size=64),
    )
    framed = command.map(pkt)
    special = st.sampled_from([b"0000", b"0001", b"0002", b"0003", b"0004", b"zzzz", b"fff"])
    return st.one_of(framed, special, st.binary(max_size=8))


def _pack_header() -> st.SearchStrategy[bytes]:
    version = st.integers(0, 2**32 - 1)
    count = st.integers(0, 2**32 - 1)
    header = st.builds(lambda v, c: b"PACK" + struct.pack(">II", v, c), version, count)
    return st.one_of(st.just(b""), header.flatmap(lambda h: st.binary(max_size=64).map(h.__add__)))


def _refs(api: httpx.Client, target: Target) -> str:
    return api.get(f"/api/models/{target.repo}/refs", headers=target.user.auth).text


def test_git_routes_survive_generated_pkt_lines(server: Server, target: Target) -> None:
    auth = target.user.auth
    with httpx.Client(base_url=server.url, timeout=60) as api:
        before = _refs(api, target)

        @BOUNDED
        @given(
            service=st.sampled_from(["git-upload-pack", "git-receive-pack"]),
            protocol=st.sampled_from([None, "version=2", "version=1", "version=99"]),
            lines=st.lists(_lines(target.head), max_size=12),
            pack=_pack_header(),
        )
        def run(service: str, protocol: str | None, lines: list[bytes], pack: bytes) -> None:
            headers = {**auth, "Content-Type": f"application/x-{service}-request"}
            if protocol:
                headers["Git-Protocol"] = protocol
            r = api.post(
                f"/{target.repo}/{service}", content=b"".join(lines) + pack, headers=headers
            )
            assert r.status_code < 500, (service, protocol, lines, pack, r.status_code, r.text)

        run()
        assert _refs(api, target) == before, "a refused push moved a ref"
    assert_healthy(server)


def test_git_advertisement_survives_generated_queries(server: Server, target: Target) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as api:

        @BOUNDED
        @given(
            service=st.text(max_size=30),
            protocol=st.text(  # printable, no edge spaces: what HTTP lets a header carry
                alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40
            ).map(str.strip),
        )
        def run(service: str, protocol: str) -> None:
            r = api.get(
                f"/{target.repo}/info/refs",
                params={"service": service},
                headers={"Git-Protocol": protocol},
            )
            assert r.status_code < 500, (service, protocol, r.status_code, r.text)

        run()
    assert_healthy(server)


def _json() -> st.SearchStrategy[object]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**80), 2**80),
        st.floats(allow_nan=False),
        st.text(max_size=20),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=12,
    )


def _batch() -> st.SearchStrategy[object]:
    oid = st.one_of(HEX, st.just("a" * 64), st.text(max_size=70))
    obj = st.one_of(
        st.fixed_dictionaries(
            {"oid": oid, "size": st.one_of(st.integers(-(2**70), 2**70), _json())}
        ),
        _json(),
    )
    near = st.fixed_dictionaries(
        {"operation": st.sampled_from(["upload", "download", "delete", 5])},
        optional={
            "objects": st.one_of(st.lists(obj, max_size=5), _json()),
            "transfers": st.one_of(
                st.lists(st.sampled_from(["basic", "lfs-standalone-file"])), _json()
            ),
            "hash_algo": st.one_of(st.sampled_from(["sha256", "sha1"]), _json()),
            "ref": st.one_of(st.fixed_dictionaries({"name": st.text(max_size=20)}), _json()),
        },
    )
    return st.one_of(near, _json())


def test_lfs_routes_survive_generated_bodies(server: Server, target: Target) -> None:
    base = f"/{target.repo}.git/info/lfs"
    routes = [
        "objects/batch",
        "locks",
        "locks/verify",
        "locks/1/unlock",
        f"locks/{'9' * 25}/unlock",
    ]
    with httpx.Client(base_url=server.url, timeout=60) as api:

        @BOUNDED
        @given(
            route=st.sampled_from(routes),
            body=st.one_of(
                _batch().map(json.dumps), _json().map(json.dumps), st.binary(max_size=80)
            ),
            authenticated=st.booleans(),
        )
        def run(route: str, body: str | bytes, authenticated: bool) -> None:
            headers = {**LFS, **(target.user.auth if authenticated else {})}
            r = api.post(f"{base}/{route}", content=body, headers=headers)
            assert r.status_code < 500, (route, body, r.status_code, r.text)

        run()

        @BOUNDED
        @given(
            query=st.dictionaries(
                st.sampled_from(["id", "cursor", "limit", "path", "refspec"]),
                st.one_of(st.integers(-(2**80), 2**80).map(str), st.text(max_size=20)),
            )
        )
        def listing(query: dict[str, str]) -> None:
            r = api.get(f"{base}/locks", params=query, headers={**LFS, **target.user.auth})
            assert r.status_code < 500, (query, r.status_code, r.text)

        listing()
    assert_healthy(server)
