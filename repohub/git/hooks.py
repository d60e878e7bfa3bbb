"""Push hooks in git's own protocol, run by the server around every push.

git runs `pre-receive` with one `old new ref` line per update on stdin, refuses the whole push
when it exits non-zero and shows the pusher whatever it printed; `post-receive` runs the same
way once refs moved. RepoHub keeps that contract so hooks written for git (or for GitLab's
`<name>.d/` directories) work unchanged: its own policies live in the top-level `hooks/`
directory, an administrator's beside them under `REPOHUB_SITE_HOOKS_DIR`.

A RepoHub repo has no git directory, so each run builds a throwaway bare repository whose
`objects/pack/` links the network's cached packs (and, before refs move, the quarantined
pushed pack) and whose `packed-refs` are the repo's refs: plain `git rev-list` and
`git cat-file` work in it. Hooks get a clean environment, not the server's, so no storage
credential or signing key reaches them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from repohub.config import Settings
from repohub.objects.gitstore import IncomingPack, NetworkObjectStore
from repohub.refs.sqlrefs import RefUpdate
from repohub.repos.paths import shown_text

logger = logging.getLogger(__name__)

SOURCE_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_HOOKS_DIR = SOURCE_ROOT / "hooks"
PRE_RECEIVE = "pre-receive"
POST_RECEIVE = "post-receive"
OUTPUT_LIMIT = 256 * 1024  # per hook: enough for any message, bounded for a runaway hook


@dataclass(frozen=True)
class HookPush:
    """Who pushes into which repo: what hooks read as `REPOHUB_*` variables."""

    repo: str  # `owner/name`, or `datasets/owner/name`: the repo's URL path
    repo_type: str
    repo_id: int
    network_id: int
    pusher: str | None


@dataclass(frozen=True)
class Quarantine:
    """What a hook's `GIT_DIR` shows: stored packs, the pushed pack if any, the repo's refs.

    Packs are `.pack` paths with their `.idx` beside them; only published packs and this
    push's own pack belong here, so no hook ever sees objects of another (refused) push.
    """

    packs: list[Path]
    refs: Mapping[bytes, bytes]
    head: bytes
    incoming: Path | None = None


@dataclass(frozen=True)
class HookResult:
    ok: bool
    output: str


def repo_path(repo_type: str, full_name: str) -> str:
    """The repo as its URL names it, which is how users and hooks know it."""
    return f"datasets/{full_name}" if repo_type == "dataset" else full_name


class HookRunner:
    """Finds and runs the hooks of one hook name; built from settings per push.

    The hook list is read on every run, so an administrator adds or removes a site hook
    without restarting the server (as with git's own hooks directory).
    """

    def __init__(self, settings: Settings, *, shipped_dir: Path = SHIPPED_HOOKS_DIR) -> None:
        self.settings = settings
        self.shipped_dir = shipped_dir

    def hooks(self, name: str) -> list[Path]:
        """Shipped `<name>.d/*`, then site `<name>.d/*`, then a plain site `<name>` file."""
        found = _executables(self.shipped_dir / f"{name}.d")
        site = self.settings.site_hooks_dir
        if site is not None:
            found += _executables(site / f"{name}.d")
            if _is_executable(site / name):
                found.append(site / name)
        return found

    def pre_receive(
        self, push: HookPush, updates: list[RefUpdate], quarantine: Callable[[], Quarantine]
    ) -> HookResult:
        """Run until a hook fails: that failure (or a timeout) refuses the whole push."""
        return self._run(PRE_RECEIVE, push, updates, quarantine, stop_on_failure=True)

    def post_receive(
        self, push: HookPush, updates: list[RefUpdate], quarantine: Callable[[], Quarantine]
    ) -> HookResult:
        """Run every hook: refs already moved, so a failure only shows in the output."""
        return self._run(POST_RECEIVE, push, updates, quarantine, stop_on_failure=False)

    def _run(
        self,
        name: str,
        push: HookPush,
        updates: list[RefUpdate],
        quarantine: Callable[[], Quarantine],
        *,
        stop_on_failure: bool,
    ) -> HookResult:
        hooks = self.hooks(name)
        if not hooks:
            return HookResult(True, "")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"repohub-{name}-") as tmp:
            root = Path(tmp)
            seen = quarantine()
            git_dir = build_git_dir(root / "repo.git", seen)
            stdin = root / "stdin"
            stdin.write_bytes(stdin_lines(updates))
            env = self.environment(push, git_dir, quarantined=seen.incoming is not None)
            outputs: list[str] = []
            ok = True
            for hook in hooks:
                run = self._run_one(name, hook, stdin, env, git_dir, root / "output")
                outputs.append(run.output)
                ok = ok and run.ok
                if not run.ok and stop_on_failure:
                    break
        logger.debug("%s: %d hook(s) in %.3f s", name, len(outputs), time.monotonic() - started)
        return HookResult(ok, "".join(outputs))

    def _run_one(
        self, name: str, hook: Path, stdin: Path, env: dict[str, str], cwd: Path, output: Path
    ) -> HookResult:
        argv = [sys.executable, str(hook)] if hook.suffix == ".py" else [str(hook)]
        label, timeout = f"{name} hook {hook.name}", self.settings.hook_timeout
        with stdin.open("rb") as feed, output.open("w+b") as out:
            try:
                code = _call(argv, feed, out, env, cwd, timeout)
            except OSError as exc:
                logger.warning("%s (%s) could not start: %s", label, hook, exc)
                return HookResult(False, f"{label} could not start: {exc.strerror}\n")
            text = _read_limited(out)
        if code is None:
            logger.warning("%s (%s) timed out after %g s", label, hook, timeout)
            return HookResult(False, f"{text}{label} timed out after {timeout:g} s\n")
        if code != 0:
            logger.info("%s (%s) exited with %d", label, hook, code)
            return HookResult(False, text or f"{label} declined (exit status {code})\n")
        return HookResult(True, text)

    def environment(self, push: HookPush, git_dir: Path, *, quarantined: bool) -> dict[str, str]:
        """git's hook variables plus what RepoHub's hooks need, and nothing of the server's.

        PATH starts with the server interpreter's directory, so `python3` in a hook is the
        one RepoHub runs on; PYTHONPATH lets Python hooks `import repohub`.
        """
        s = self.settings
        env = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), s.hook_path]),
            "PYTHONPATH": str(SOURCE_ROOT),
            "GIT_DIR": str(git_dir),
            "REPOHUB_REPO": push.repo,
            "REPOHUB_REPO_TYPE": push.repo_type,
            "REPOHUB_REPO_ID": str(push.repo_id),
            "REPOHUB_NETWORK_ID": str(push.network_id),
            "REPOHUB_PUSHER": push.pusher or "",
            "REPOHUB_DATABASE_URL": absolute_database_url(s.resolved_database_url),
            "REPOHUB_DATA_DIR": str(s.data_dir.resolve()),
            "REPOHUB_LARGE_FILE_THRESHOLD": str(s.large_file_threshold),
        }
        if quarantined:
            env["GIT_QUARANTINE_PATH"] = str(git_dir / "objects")
        return env


@dataclass
class PushHooks:
    """The `PushContext` seams (`pre_receive`, `post_receive`, `messages`) over a runner.

    Hook output on success is queued in `messages`, which receive-pack sends as `remote:`
    lines after the ref updates; a refusal's output is returned, as the seam expects.
    """

    runner: HookRunner
    push: HookPush
    store: NetworkObjectStore
    read_refs: Callable[[], Mapping[bytes, bytes]]
    head: bytes
    messages: list[str] = field(default_factory=list)

    def pre_receive(self, updates: list[RefUpdate], incoming: IncomingPack | None) -> str | None:
        result = self.runner.pre_receive(self.push, updates, lambda: self._quarantine(incoming))
        if result.ok:
            self._tell(result.output)
            return None
        return result.output or "pre-receive hook declined"

    def post_receive(self, updates: list[RefUpdate]) -> None:
        result = self.runner.post_receive(self.push, updates, lambda: self._quarantine(None))
        self._tell(result.output)

    def _quarantine(self, incoming: IncomingPack | None) -> Quarantine:
        """Refs first, then packs: every pack a ref needs was stored before the ref moved."""
        refs = {name: sha for name, sha in self.read_refs().items() if name != b"HEAD"}
        if any(not self.store.contains_packed(sha) for sha in refs.values()):
            self.store.refresh()  # another node stored the pack; fetch it before linking
        packs = [self.store.cache_dir / f"{name}.pack" for name in self.store.pack_names()]
        pushed = incoming.pack_path if incoming is not None else None
        return Quarantine(packs, refs, self.head, pushed)

    def _tell(self, output: str) -> None:
        if output.strip():
            self.messages.append(output.rstrip("\n"))


def build_git_dir(path: Path, quarantine: Quarantine) -> Path:
    """A bare repository git accepts: HEAD, config, refs as `packed-refs`, linked packs."""
    pack_dir = path / "objects" / "pack"
    pack_dir.mkdir(parents=True)
    (path / "objects" / "info").mkdir()
    (path / "refs" / "heads").mkdir(parents=True)
    (path / "refs" / "tags").mkdir()
    (path / "HEAD").write_bytes(b"ref: " + quarantine.head + b"\n")
    (path / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = true\n")
    (path / "packed-refs").write_bytes(
        b"".join(sha + b" " + ref + b"\n" for ref, sha in sorted(quarantine.refs.items()))
    )
    for pack in quarantine.packs:
        _link_pack(pack, pack_dir)
    if quarantine.incoming is not None:
        _link_pack(quarantine.incoming, pack_dir)
    return path


def stdin_lines(updates: Iterable[RefUpdate]) -> bytes:
    return b"".join(u.old + b" " + u.new + b" " + u.ref + b"\n" for u in updates)


def absolute_database_url(url: str) -> str:
    """A relative SQLite path would resolve against the hook's directory: make it absolute."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if Path(database).is_absolute():
        return url
    return parsed.set(database=str(Path(database).resolve())).render_as_string(hide_password=False)


def _link_pack(pack: Path, pack_dir: Path) -> None:
    """Symlinks, not copies: a pack may be gigabytes, and it is immutable anyway."""
    index = pack.with_suffix(".idx")
    (pack_dir / pack.name).symlink_to(pack)
    (pack_dir / index.name).symlink_to(index)


def _executables(directory: Path) -> list[Path]:
    """Executable files in name order; dotfiles (editor swap files) are never hooks."""
    try:
        entries = sorted(directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [p for p in entries if not p.name.startswith(".") and _is_executable(p)]


def _is_executable(path: Path) -> bool:
    """git's rule: a hook without the executable bit is switched off, not an error."""
    return path.is_file() and os.access(path, os.X_OK)


def _call(
    argv: list[str],
    stdin: IO[bytes],
    out: IO[bytes],
    env: dict[str, str],
    cwd: Path,
    timeout: float,
) -> int | None:
    """The exit status, or None after a timeout (when the hook's whole process group is killed,
    so a shell hook's children cannot outlive it)."""
    proc = subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def _read_limited(out: IO[bytes]) -> str:
    """A hook's output as text for `remote:` lines: any bytes (a site hook printing a Latin-1
    path) are shown by the display rule, `\\xNN` for what is not UTF-8, never an error."""
    out.seek(0)
    data = out.read(OUTPUT_LIMIT + 1)
    text = shown_text(data[:OUTPUT_LIMIT])
    if len(data) > OUTPUT_LIMIT:
        text += "\n[output truncated]\n"
    return text
