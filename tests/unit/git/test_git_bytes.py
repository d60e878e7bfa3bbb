"""Hooks and push rules take git's bytes as they come: a name that is not UTF-8 never crashes."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest
from dulwich.objects import ZERO_SHA, ShaFile

from repohub.config import Settings
from repohub.git.hooks import SHIPPED_HOOKS_DIR, HookPush, HookRunner, Quarantine
from repohub.git.policy import RepoRules, check_update
from repohub.refs.sqlrefs import RefUpdate
from tests.support.gitcli import Git
from tests.unit.git.test_hooks import _pack

PUSH = HookPush("alice/model", "model", 7, 3, "alice")
HEAD = b"refs/heads/main"
RULES = RepoRules("main", protect_default_branch=True)


def test_hook_output_that_is_not_utf8_reaches_the_pusher_escaped(tmp_path: Path) -> None:
    hook = tmp_path / "site/pre-receive.d/10-latin1"
    hook.parent.mkdir(parents=True)
    hook.write_bytes(b"#!/bin/sh\nprintf 'refused caf\\351.txt\\n'\nexit 1\n")
    hook.chmod(0o755)
    settings = Settings(data_dir=tmp_path / "data", site_hooks_dir=tmp_path / "site")
    runner = HookRunner(settings, shipped_dir=tmp_path / "none")
    update = RefUpdate(HEAD, b"1" * 40, b"2" * 40)

    result = runner.pre_receive(PUSH, [update], lambda: Quarantine([], {}, HEAD))

    assert not result.ok
    assert result.output == "refused caf\\xe9.txt\n"


def test_shipped_large_file_policy_names_a_latin1_file_escaped(tmp_path: Path, git: Git) -> None:
    src = git.init_repo(tmp_path / "src", {"small.txt": "fine\n"})
    first = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    (src / os.fsdecode(b"gro\xdf.onnx")).write_bytes(b"\0" * 5000)
    (src / os.fsdecode(b"klein\xe9.txt")).write_bytes(b"fine\n")
    big = git.commit(src, {}, "big, with Latin-1 names")
    quarantine = Quarantine(
        [_pack(git, src, f"{first}\n", tmp_path / "cache/pack")],
        {HEAD: first.encode()},
        HEAD,
        incoming=_pack(git, src, f"{big}\n^{first}\n", tmp_path / "cache/incoming-pack"),
    )
    settings = Settings(data_dir=tmp_path / "data", site_hooks_dir=None, large_file_threshold=4096)
    update = RefUpdate(HEAD, first.encode(), big.encode())

    result = HookRunner(settings).pre_receive(PUSH, [update], lambda: quarantine)

    assert not result.ok, result.output
    assert "Traceback" not in result.output
    assert "  gro\\xdf.onnx (0.0 MB)" in result.output
    assert 'git lfs track "*.onnx"' in result.output
    assert "klein" not in result.output


def test_a_ref_name_that_is_not_utf8_is_refused() -> None:
    """Before any object is looked at: refs are text in the database and in URLs."""

    def get(sha: bytes) -> ShaFile:
        raise KeyError(sha)

    refused = check_update(RefUpdate(b"refs/heads/caf\xe9", ZERO_SHA, b"1" * 40), RULES, get)
    allowed = check_update(RefUpdate("refs/tags/café".encode(), ZERO_SHA, ZERO_SHA), RULES, get)

    assert refused == "invalid ref name: ref names must be UTF-8"
    assert allowed is None


def _hook_module(path: Path) -> ModuleType:
    """A shipped hook file (its name is no module name) imported for its functions."""
    spec = importlib.util.spec_from_file_location(f"hook_{path.stem.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_jobs_hook_reads_its_stdin_as_bytes_and_skips_a_ref_that_is_not_utf8(
    tmp_path: Path, git: Git, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = git.init_repo(tmp_path / "src", {"repohub.yaml": "train: {}\n"})
    sha = git("rev-parse", "HEAD", cwd=src).stdout.strip().encode()
    monkeypatch.setenv("GIT_DIR", str(src / ".git"))
    jobs = _hook_module(SHIPPED_HOOKS_DIR / "post-receive.d/30-jobs.py")

    found = jobs.pushed_specs(
        [ZERO_SHA + b" " + sha + b" refs/heads/main", ZERO_SHA + b" " + sha + b" refs/heads/\xe9"]
    )

    assert found == [("refs/heads/main", sha.decode(), b"train: {}\n")]
