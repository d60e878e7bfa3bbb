"""HookRunner with small real hooks in temporary directories: git's hook protocol, end to end.

Hooks are real programs (shell scripts, Python files) and packs are made by the real `git`, so
what a hook sees in its quarantine GIT_DIR is what it would see on a live server.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dulwich.objects import ZERO_SHA

from repohub.config import Settings
from repohub.git.hooks import (
    SHIPPED_HOOKS_DIR,
    HookPush,
    HookRunner,
    Quarantine,
    absolute_database_url,
    repo_path,
)
from repohub.refs.sqlrefs import RefUpdate
from tests.support.gitcli import Git

PUSH = HookPush("datasets/alice/data", "dataset", 7, 3, "alice")
OLD, NEW = b"1" * 40, b"2" * 40
UPDATES = [RefUpdate(b"refs/heads/main", OLD, NEW), RefUpdate(b"refs/tags/v1", NEW, ZERO_SHA)]
HEAD = b"refs/heads/main"


def empty() -> Quarantine:
    return Quarantine([], {}, HEAD)


def write_hook(path: Path, body: str, *, executable: bool = True, shell: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(("#!/bin/sh\n" if shell else "") + body)
    path.chmod(0o755 if executable else 0o644)
    return path


@pytest.fixture
def make_runner(tmp_path: Path) -> Callable[..., HookRunner]:
    """A runner whose shipped hooks live in `tmp_path/shipped` and site hooks in `.../site`."""

    def make(**settings: object) -> HookRunner:
        values = {
            "data_dir": tmp_path / "data",
            "database_url": None,
            "site_hooks_dir": tmp_path / "site",
        } | settings
        return HookRunner(Settings(**values), shipped_dir=tmp_path / "shipped")  # type: ignore[arg-type]

    return make


def test_hooks_get_one_old_new_ref_line_per_update(tmp_path: Path, make_runner) -> None:
    write_hook(tmp_path / "shipped/pre-receive.d/10-echo", "cat\n")

    result = make_runner().pre_receive(PUSH, UPDATES, empty)

    assert result.ok
    assert (
        result.output
        == f"{'1' * 40} {'2' * 40} refs/heads/main\n{'2' * 40} {'0' * 40} refs/tags/v1\n"
    )


def test_order_is_shipped_then_site_directory_then_site_file(tmp_path: Path, make_runner) -> None:
    shipped, site = tmp_path / "shipped/pre-receive.d", tmp_path / "site"
    write_hook(shipped / "20-b", "echo shipped-20\n")
    write_hook(shipped / "10-a", "echo shipped-10\n")
    write_hook(shipped / "15-off", "echo disabled\n", executable=False)
    write_hook(shipped / ".10-swap", "echo hidden\n")
    write_hook(site / "pre-receive.d/05-c", "echo site-05\n")
    write_hook(site / "pre-receive", "echo site-plain\n")
    write_hook(site / "post-receive.d/10-other", "echo other-hook\n")
    runner = make_runner()

    assert [p.name for p in runner.hooks("pre-receive")] == ["10-a", "20-b", "05-c", "pre-receive"]
    result = runner.pre_receive(PUSH, UPDATES, empty)
    assert result.output == "shipped-10\nshipped-20\nsite-05\nsite-plain\n"


def test_first_failure_refuses_and_later_hooks_do_not_run(tmp_path: Path, make_runner) -> None:
    hooks = tmp_path / "shipped/pre-receive.d"
    write_hook(hooks / "10-ok", "echo checked\n")
    write_hook(hooks / "20-no", "echo 'too big' >&2\nexit 3\n")
    write_hook(hooks / "30-never", "echo ran\n")

    result = make_runner().pre_receive(PUSH, UPDATES, empty)

    assert not result.ok
    assert result.output == "checked\ntoo big\n"


def test_a_silent_refusal_still_says_which_hook(tmp_path: Path, make_runner) -> None:
    write_hook(tmp_path / "site/pre-receive.d/50-quiet", "exit 1\n")

    result = make_runner().pre_receive(PUSH, UPDATES, empty)

    assert not result.ok
    assert result.output == "pre-receive hook 50-quiet declined (exit status 1)\n"


def test_a_timeout_refuses_and_kills_the_hooks_children(tmp_path: Path, make_runner) -> None:
    pid_file = tmp_path / "child.pid"
    write_hook(
        tmp_path / "shipped/pre-receive.d/10-slow",
        f"sleep 60 &\necho $! > {pid_file}\necho waiting\nwait\n",
    )
    started = time.monotonic()

    result = make_runner(hook_timeout=0.5).pre_receive(PUSH, UPDATES, empty)

    assert time.monotonic() - started < 10
    assert not result.ok
    assert result.output == "waiting\npre-receive hook 10-slow timed out after 0.5 s\n"
    assert _gone(int(pid_file.read_text()))


def test_post_receive_runs_every_hook_even_after_a_failure(tmp_path: Path, make_runner) -> None:
    hooks = tmp_path / "shipped/post-receive.d"
    write_hook(hooks / "10-broken", "echo broken\nexit 1\n")
    write_hook(hooks / "20-notify", "echo notified\n")

    result = make_runner().post_receive(PUSH, UPDATES, empty)

    assert not result.ok
    assert result.output == "broken\nnotified\n"


def test_environment_is_git_style_and_keeps_the_servers_secrets_out(
    tmp_path: Path, make_runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPOHUB_S3_SECRET_ACCESS_KEY", "leaked-from-env")
    write_hook(tmp_path / "shipped/pre-receive.d/10-env", "env\n")
    write_hook(tmp_path / "shipped/post-receive.d/10-env", "env\n")
    runner = make_runner(secret_key="leaked-from-settings", large_file_threshold=1234)
    incoming = Quarantine([], {}, HEAD, incoming=tmp_path / "incoming-pack-x.pack")
    _touch_pack(incoming.incoming)

    pre = _env(runner.pre_receive(PUSH, UPDATES, lambda: incoming).output)
    post = _env(runner.post_receive(PUSH, UPDATES, empty).output)

    assert pre["REPOHUB_REPO"] == "datasets/alice/data"
    assert pre["REPOHUB_REPO_TYPE"] == "dataset"
    assert (pre["REPOHUB_REPO_ID"], pre["REPOHUB_NETWORK_ID"]) == ("7", "3")
    assert pre["REPOHUB_PUSHER"] == "alice"
    assert pre["REPOHUB_LARGE_FILE_THRESHOLD"] == "1234"
    assert pre["REPOHUB_DATA_DIR"] == str((tmp_path / "data").resolve())
    assert pre["REPOHUB_DATABASE_URL"] == f"sqlite:///{(tmp_path / 'data').resolve()}/repohub.db"
    assert pre["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert pre["GIT_QUARANTINE_PATH"] == pre["GIT_DIR"] + "/objects"
    assert "GIT_QUARANTINE_PATH" not in post, "post-receive runs after the quarantine"
    everything = "\n".join(f"{k}={v}" for env in (pre, post) for k, v in env.items())
    assert "leaked" not in everything


def test_quarantine_is_removed_after_the_run(tmp_path: Path, make_runner) -> None:
    write_hook(tmp_path / "shipped/pre-receive.d/10-where", 'echo "$GIT_DIR"\ntest -f HEAD\n')

    result = make_runner().pre_receive(PUSH, UPDATES, empty)

    git_dir = Path(result.output.strip())
    assert result.ok, "hooks run inside their GIT_DIR"
    assert git_dir.is_absolute() and not git_dir.exists() and not git_dir.parent.exists()


def test_no_hooks_means_no_quarantine_at_all(make_runner) -> None:
    def never() -> Quarantine:
        raise AssertionError("built a quarantine with no hook to run")

    result = make_runner().pre_receive(PUSH, UPDATES, never)

    assert result.ok and result.output == ""


def test_git_in_the_quarantine_sees_stored_and_pushed_objects(
    tmp_path: Path, make_runner, git: Git
) -> None:
    src = git.init_repo(tmp_path / "src", {"a.txt": "stored\n"})
    stored = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    pushed = git.commit(src, {"dir/b.txt": "pushed\n"}, "second")
    quarantine = Quarantine(
        [_pack(git, src, f"{stored}\n", tmp_path / "cache/pack")],
        {HEAD: stored.encode()},
        HEAD,
        incoming=_pack(git, src, f"{pushed}\n^{stored}\n", tmp_path / "cache/incoming-pack"),
    )
    write_hook(
        tmp_path / "shipped/pre-receive.d/10-inspect",
        "read old new ref\n"
        'git rev-list --objects "$new" --not --all\n'
        'git cat-file -p "$new:dir/b.txt"\n'
        'git cat-file -p "$old:a.txt"\n',
    )
    update = RefUpdate(HEAD, stored.encode(), pushed.encode())

    result = make_runner().pre_receive(PUSH, [update], lambda: quarantine)

    expected = git("rev-list", "--objects", pushed, "--not", stored, cwd=src).stdout
    assert result.ok, result.output
    assert result.output == expected + "pushed\nstored\n"


def test_python_hooks_run_on_the_servers_interpreter(tmp_path: Path, make_runner) -> None:
    write_hook(
        tmp_path / "shipped/pre-receive.d/10-py.py",
        "import sys\nimport repohub.refs\nprint(sys.executable)\n",
        shell=False,
    )

    result = make_runner().pre_receive(PUSH, UPDATES, empty)

    assert result.ok, result.output
    assert result.output == f"{sys.executable}\n"


def test_shipped_large_file_policy_refuses_big_blobs(
    tmp_path: Path, git: Git, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = git.init_repo(tmp_path / "src", {"small.txt": "fine\n"})
    first = git("rev-parse", "HEAD", cwd=src).stdout.strip()
    big = git.commit(src, {"models/net.onnx": b"\x00" * 5000, "ok.txt": "fine\n"}, "big")
    quarantine = Quarantine(
        [_pack(git, src, f"{first}\n", tmp_path / "cache/pack")],
        {HEAD: first.encode()},
        HEAD,
        incoming=_pack(git, src, f"{big}\n^{first}\n", tmp_path / "cache/incoming-pack"),
    )
    settings = Settings(data_dir=tmp_path / "data", site_hooks_dir=None, large_file_threshold=4096)
    runner = HookRunner(settings)
    update = RefUpdate(HEAD, first.encode(), big.encode())

    result = runner.pre_receive(PUSH, [update], lambda: quarantine)

    assert [p.parent.parent for p in runner.hooks("pre-receive")] == [SHIPPED_HOOKS_DIR] * 2
    assert not result.ok
    assert "models/net.onnx (0.0 MB)" in result.output
    assert 'git lfs track "*.onnx"' in result.output
    assert "ok.txt" not in result.output


def test_repo_path_and_database_url() -> None:
    assert repo_path("model", "alice/net") == "alice/net"
    assert repo_path("dataset", "alice/data") == "datasets/alice/data"
    assert (
        absolute_database_url("sqlite:///rel/hub.db") == f"sqlite:///{Path('rel/hub.db').resolve()}"
    )
    postgres = "postgresql+psycopg2://u:p%40ss@db:5432/hub?options=-csearch_path%3Dx"
    assert absolute_database_url(postgres) == postgres


def _env(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def _touch_pack(pack: Path) -> None:
    pack.write_bytes(b"")
    pack.with_suffix(".idx").write_bytes(b"")


def _pack(git: Git, repo: Path, revs: str, prefix: Path) -> Path:
    """Pack what `revs` (git pack-objects --revs syntax) selects; the pack's path."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(
        ["git", "pack-objects", "-q", "--revs", str(prefix)],
        cwd=repo,
        input=revs,
        capture_output=True,
        text=True,
        env=git.env,
        check=True,
    )
    return prefix.with_name(f"{prefix.name}-{made.stdout.strip()}.pack")


def _gone(pid: int) -> bool:
    """Whether `pid` ended (a zombie awaiting its reaper counts as ended)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False
