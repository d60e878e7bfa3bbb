"""Storage accounting by chunk: a second version that shares most chunks with the first is
counted at its size for what the repo has, at its new chunks for what storage holds, and the
gap is shown as what dedup saved, in the storage API, the hub's figures and on the repo page."""

from __future__ import annotations

import hashlib
import os

import httpx

from tests.conftest import User
from tests.functional.xet.test_xet_cas import commit_lfs, post_shard, post_xorb, xet_token
from tests.support.xetwire import Term, file_entry, make_xorb, shard, split

CHUNK = 16_384


def test_a_version_that_shares_chunks_is_stored_by_its_new_chunks(
    api: httpx.Client, make_user, make_repo
) -> None:
    admin: User = make_user("root", admin=True)
    owner: User = make_user("store")
    repo = str(make_repo(owner, empty=False))
    hub_before = api.get("/api/storage", headers=admin.auth).json()

    v1 = os.urandom(10 * CHUNK)
    body1, x1 = make_xorb(split(v1, CHUNK), [0, 1] * 5)
    changed = os.urandom(CHUNK)  # v2: the same first nine chunks, a new last one
    v2 = v1[: 9 * CHUNK] + changed
    body2, x2 = make_xorb([changed])
    token = xet_token(api, owner, repo)
    for xorb, body in ((x1, body1), (x2, body2)):
        assert post_xorb(api, token, xorb.hash, body).status_code == 200
    first = file_entry([Term(x1, 0, 10)], v1)
    second = file_entry([Term(x1, 0, 9), Term(x2, 0, 1)], v2)
    assert post_shard(api, token, shard([first, second], [x1, x2])).status_code == 200
    for path, data in (("v1.bin", v1), ("v2.bin", v2)):
        r = commit_lfs(api, owner, repo, hashlib.sha256(data).hexdigest(), len(data), path)
        assert r.status_code == 200, r.text

    usage = api.get(f"/api/models/{repo}/storage", headers=owner.auth).json()
    assert usage["lfs"]["referencedObjects"] == 2
    assert usage["lfs"]["referencedBytes"] == len(v1) + len(v2)
    expected = {
        "files": 2,
        "fileBytes": len(v1) + len(v2),
        "chunks": 11,
        "chunkBytes": 11 * CHUNK,
        "dedupSavedBytes": 9 * CHUNK,
    }
    assert usage["xet"]["referenced"] == expected
    assert usage["xet"]["network"] == expected
    assert usage["networkStoredBytes"] == 11 * CHUNK

    hub_after = api.get("/api/storage", headers=admin.auth).json()
    grew = {k: hub_after["xet"][k] - hub_before["xet"][k] for k in hub_after["xet"]}
    assert grew == {
        "files": 2,
        "fileBytes": len(v1) + len(v2),
        "xorbs": 2,
        "chunkBytes": 11 * CHUNK,
        "storedBytes": len(body1) + len(body2),
        "dedupSavedBytes": 9 * CHUNK,
    }
    assert hub_after["plainLfsBytes"] == hub_before["plainLfsBytes"], "no plain copy kept"
    assert api.get("/api/storage", headers=owner.auth).status_code == 403

    page = api.get(f"/{repo}", headers=owner.auth)
    assert page.status_code == 200
    panel = page.text.split('id="storage"', 1)[1].split("</section>", 1)[0]
    assert "<dt>Dedup saved</dt><dd>147.5 kB</dd>" in panel, panel  # 9 x 16,384 bytes
    assert "in 11 chunks" in panel
