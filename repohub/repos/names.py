"""Naming rules for repos, checked once here before any path or key is built from a name."""

from __future__ import annotations

import re

from repohub.errors import InvalidArgument, InvalidName

REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
REPO_TYPES = ("model", "dataset")
GATED_MODES = ("auto", "manual")


def validate_repo_name(name: str) -> str:
    if not isinstance(name, str) or not REPO_RE.fullmatch(name):
        raise InvalidName(
            f"invalid repo name {name!r}: use 1-96 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if name in (".", "..") or ".." in name or name.lower().endswith(".git"):
        raise InvalidName(f"invalid repo name {name!r}: no '..' and no '.git' ending")
    return name


def validate_repo_type(repo_type: str | None) -> str:
    repo_type = repo_type or "model"
    if repo_type not in REPO_TYPES:
        raise InvalidName(f"invalid repo type {repo_type!r}: use 'model' or 'dataset'")
    return repo_type


def validate_gated(mode: str | bool) -> str | None:
    """The Hub's gating modes: `"auto"`, `"manual"`, or False (not gated, stored as None)."""
    if mode is False:
        return None
    if isinstance(mode, str) and mode in GATED_MODES:
        return mode
    raise InvalidArgument(f"invalid gated value {mode!r}: use 'auto', 'manual' or false")
