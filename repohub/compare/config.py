"""What changed in the configuration: `repohub.yaml` (text and key by key) and the model
card's front matter (key by key)."""

from __future__ import annotations

import difflib
from typing import Any

import yaml
from dulwich.objects import Blob, Commit, Tree

from repohub.objects.gitstore import NetworkObjectStore
from repohub.repos.cards import parse_card

SPEC_FILE = "repohub.yaml"
CARD_FILE = "README.md"
MAX_BYTES = 256 * 1024
MISSING = object()


def read_text(store: NetworkObjectStore, sha: str, name: str) -> str | None:
    """A small text file at the root of a commit's tree, or None."""
    commit = store[sha.encode()]
    assert isinstance(commit, Commit)
    tree = store[commit.tree]
    assert isinstance(tree, Tree)
    try:
        _, blob_id = tree[name.encode()]
    except KeyError:
        return None
    blob = store[blob_id]
    if not isinstance(blob, Blob) or blob.raw_length() > MAX_BYTES:
        return None
    return blob.as_raw_string().decode("utf-8", "replace")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"train": {"params": {"epochs": 1}}}` as `{"train.params.epochs": 1}`."""
    if isinstance(value, dict) and value:
        found: dict[str, Any] = {}
        for key, item in value.items():
            name = "on" if key is True else str(key)
            found.update(flatten(item, f"{prefix}.{name}" if prefix else name))
        return found
    return {prefix: value} if prefix else {}


def key_changes(old: Any, new: Any) -> list[dict[str, Any]]:
    a, b = flatten(old), flatten(new)
    rows = []
    for key in sorted(a.keys() | b.keys()):
        before, after = a.get(key, MISSING), b.get(key, MISSING)
        if before != after:
            rows.append(
                {
                    "key": key,
                    "base": None if before is MISSING else before,
                    "head": None if after is MISSING else after,
                }
            )
    return rows


def _yaml(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return {}


def _card(text: str | None) -> dict[str, Any]:
    return parse_card(text).metadata if text else {}


def config_diff(store: NetworkObjectStore, base: str, head: str) -> dict[str, Any]:
    old_spec, new_spec = read_text(store, base, SPEC_FILE), read_text(store, head, SPEC_FILE)
    diff = list(
        difflib.unified_diff(
            (old_spec or "").splitlines(),
            (new_spec or "").splitlines(),
            f"base/{SPEC_FILE}",
            f"head/{SPEC_FILE}",
            lineterm="",
        )
    )
    old_card, new_card = read_text(store, base, CARD_FILE), read_text(store, head, CARD_FILE)
    return {
        "spec": {
            "base_text": old_spec,
            "head_text": new_spec,
            "diff": diff,
            "changes": key_changes(_yaml(old_spec), _yaml(new_spec)),
        },
        "card": {"changes": key_changes(_card(old_card), _card(new_card))},
    }
