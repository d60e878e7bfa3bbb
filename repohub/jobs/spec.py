"""`repohub.yaml` as the jobs layer sees it: YAML, triggers, the spec hash, the queue.

The full check of the `train` and `eval` blocks belongs to `repohub.train.spec` and runs in
the worker (so this process never imports torch); here only what deciding *whether* and
*where* to run needs is read: `on.push.branches`, the resource queue, and a hash that names
the work independently of when or why it was triggered.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Any

import yaml

from repohub.errors import Unprocessable

SPEC_FILE = "repohub.yaml"
MAX_SPEC_BYTES = 64 * 1024
QUEUES = ("cpu", "gpu")


class InvalidSpec(Unprocessable):
    """The file cannot say what to run: not YAML, not a mapping, or a bad `on` block."""


def load(text: bytes) -> dict[str, Any]:
    """The spec mapping; YAML 1.1's boolean `on` key is read back as "on"."""
    if len(text) > MAX_SPEC_BYTES:
        raise InvalidSpec(f"{SPEC_FILE}: larger than {MAX_SPEC_BYTES // 1024} KiB")
    try:
        raw = yaml.safe_load(text.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidSpec(f"{SPEC_FILE}: not valid YAML ({_first_line(exc)})") from None
    if not isinstance(raw, dict):
        raise InvalidSpec(f"{SPEC_FILE}: must be a mapping with train and/or eval blocks")
    return {("on" if k is True else str(k)): v for k, v in raw.items()}


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def merge(spec: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`overrides` laid over `spec`, mapping by mapping (a manual run's tweaks)."""
    merged = dict(spec)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def spec_hash(spec: dict[str, Any]) -> str:
    """What the work is, not what triggers it: `on` is left out, so a push to another
    branch of the same commit and spec is the same work (and runs once)."""
    work = {k: v for k, v in spec.items() if k != "on"}
    canonical = json.dumps(work, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def push_patterns(spec: dict[str, Any]) -> list[str]:
    """Branch patterns of `on.push.branches`; none means the spec runs only by hand."""
    on = spec.get("on")
    if on is None:
        return []
    push = on.get("push") if isinstance(on, dict) else None
    if not isinstance(on, dict) or (push is not None and not isinstance(push, dict)):
        raise InvalidSpec(f"{SPEC_FILE}: on: must look like {{push: {{branches: [main]}}}}")
    branches = (push or {}).get("branches", [])
    if isinstance(branches, str):
        branches = [branches]
    if not isinstance(branches, list) or not all(isinstance(b, str) for b in branches):
        raise InvalidSpec(f"{SPEC_FILE}: on.push.branches: must be a list of branch patterns")
    return branches


def branch_matches(branch: str, patterns: list[str]) -> bool:
    """GitHub's rules: `*` stays within one path segment, `**` crosses them."""
    return any(_pattern(p).fullmatch(branch) for p in patterns)


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*|\*|\?)", glob)
    wild = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wild.get(part, re.escape(part)) for part in parts))


def queue_of(spec: dict[str, Any]) -> str:
    """The resource queue; a wrong value goes to `cpu`, where validation fails the job."""
    train = spec.get("train")
    resources = train.get("resources") if isinstance(train, dict) else None
    queue = resources.get("queue") if isinstance(resources, dict) else None
    return queue if queue in QUEUES else "cpu"
