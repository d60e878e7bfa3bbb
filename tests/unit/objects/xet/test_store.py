"""The local copies of recent xorbs: byte ranges read as from the blob store, the oldest
evicted past the cap, and a reader that holds a file open unaffected by its eviction."""

from __future__ import annotations

import os
import time
from pathlib import Path

from repohub.objects.xet.store import RecentXorbs


def _kept(recent: RecentXorbs, tmp_path: Path, name: str, data: bytes) -> None:
    source = tmp_path / f"spool-{name}"
    source.write_bytes(data)
    recent.keep(name, str(source))
    source.unlink()  # the spool file goes; the kept link stays


def test_ranges_and_eviction_by_age(tmp_path: Path) -> None:
    recent = RecentXorbs(tmp_path / "recent", max_bytes=2500)
    first, second, third = os.urandom(1000), os.urandom(1000), os.urandom(1000)
    _kept(recent, tmp_path, "a" * 64, first)
    reader = recent.open("a" * 64, 100, 300)
    assert reader is not None
    time.sleep(0.01)
    _kept(recent, tmp_path, "b" * 64, second)
    time.sleep(0.01)
    _kept(recent, tmp_path, "c" * 64, third)  # 3000 bytes > 2500: the oldest goes
    assert recent.open("a" * 64, 0, 10) is None
    assert reader.read(50) == first[100:150], "an open reader keeps reading"
    assert reader.read() == first[150:300]
    reader.close()
    kept = recent.open("c" * 64, 990, 1000)
    assert kept is not None and kept.read() == third[990:]
    assert sorted(p.name for p in (tmp_path / "recent").iterdir()) == ["b" * 64, "c" * 64]


def test_keeping_a_xorb_twice_is_harmless(tmp_path: Path) -> None:
    recent = RecentXorbs(tmp_path / "recent", max_bytes=10_000)
    data = os.urandom(100)
    _kept(recent, tmp_path, "d" * 64, data)
    _kept(recent, tmp_path, "d" * 64, data)
    found = recent.open("d" * 64, 0, 100)
    assert found is not None and found.read() == data
