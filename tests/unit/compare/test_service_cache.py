"""Which compares are cached: not while a `.safetensors` side may not be read yet."""

from __future__ import annotations

from typing import Any

from repohub.compare.service import _settled


def _git(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"files": {"truncated": False, "changed": list(rows)}}


def test_a_compare_waits_for_unreadable_weights_before_it_is_cached() -> None:
    text = {"path": "README.md", "kind": "text"}
    diffed = {"path": "model.safetensors", "kind": "lfs", "safetensors": {"added": []}}
    broken = {"path": "bad.safetensors", "kind": "lfs", "safetensors": {"error": "not JSON"}}
    pending = {"path": "new.safetensors", "kind": "lfs"}  # its object is not readable yet
    assert _settled(_git(text, diffed, broken))
    assert not _settled(_git(text, diffed, pending))
    assert _settled(_git())
