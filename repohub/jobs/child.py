"""Run processes: started from a forkserver that has torch loaded, watched, killed for real.

A run must be a process of its own so cancelling it is a kill and its memory is bounded
(`RLIMIT_DATA` inside, a resident-set watchdog outside). Starting Python and importing torch
takes seconds, so runs fork from a server process that imported `repohub.train.runner` once;
the worker process itself never imports torch. If the worker dies, the forkserver sees its
pipe close and exits, and every run it forked gets SIGKILL from the kernel (`PR_SET_PDEATHSIG`).

A run's stderr goes to a file of its own, so a run that dies without a word on its event
pipe (an import that fails, a crash in native code, a kill) can still be explained: its exit
code or signal and the last lines it wrote are kept when it is closed (`ending`).
"""

from __future__ import annotations

import ctypes
import faulthandler
import multiprocessing
import os
import signal
import tempfile
from contextlib import suppress
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import psutil

PRELOAD = ["repohub.train.runner"]
PR_SET_PDEATHSIG = 1
TAIL_LINES = 20  # of a dead run's stderr, shown with its error
TAIL_BYTES = 64 * 1024
_context: ForkServerContext | None = None


def context() -> ForkServerContext:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _entry(fields: dict[str, Any], conn: Connection, stderr: str) -> None:
    """The child's first frame: stderr to its file, die with the forkserver, then hand over
    to the runner (whose import fails here, in writing, if the forkserver could not load it)."""
    with suppress(OSError):
        fd = os.open(stderr, os.O_WRONLY | os.O_APPEND)
        os.dup2(fd, 2)
        os.close(fd)
    faulthandler.enable()  # a crash in native code still leaves a Python stack in the file
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    from repohub.train.runner import child_main  # preloaded by the forkserver: no import cost

    child_main(fields, conn)


class RunProcess:
    """One run: its process, the read end of its event pipe and its stderr file (created in
    `stderr_dir`, the system's temporary directory by default, and removed at `close`)."""

    def __init__(self, fields: dict[str, Any], stderr_dir: Path | None = None) -> None:
        ctx = context()
        fd, stderr = tempfile.mkstemp(prefix="run-", suffix=".stderr", dir=stderr_dir)
        os.close(fd)
        self._stderr = Path(stderr)
        self._events, sender = ctx.Pipe(duplex=False)
        self.process: BaseProcess = ctx.Process(
            target=_entry, args=(fields, sender, stderr), daemon=True
        )
        self.process.start()
        sender.close()
        self.peak_rss = 0
        self.closed = False  # the pipe ended: the run finished or died
        self.exitcode: int | None = None  # set by `close`
        self.stderr_tail = ""  # set by `close`: the last TAIL_LINES lines the run wrote there

    def events(self, timeout: float) -> list[dict[str, Any]]:
        """Events that arrived within `timeout` seconds; empty once the pipe is closed."""
        found: list[dict[str, Any]] = []
        try:
            if not self._events.poll(timeout):
                return found
            while self._events.poll(0):
                found.append(self._events.recv())
                if len(found) >= 1000:
                    break
        except (EOFError, OSError):
            self.closed = True
        return found

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def rss(self) -> int:
        try:
            rss = int(psutil.Process(self.process.pid).memory_info().rss)
        except (psutil.Error, TypeError):
            return 0
        self.peak_rss = max(self.peak_rss, rss)
        return rss

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)

    def close(self) -> None:
        """Kill the run if it still runs, keep how it ended (`exitcode`, `stderr_tail`)
        and release it; the process object is unusable afterwards, these two are not."""
        self.kill()
        self._events.close()
        if self.exitcode is None:
            self.exitcode = self.process.exitcode
            self.stderr_tail = _tail(self._stderr)
        self._stderr.unlink(missing_ok=True)
        with suppress(ValueError):
            self.process.close()

    def ending(self) -> str:
        """How a closed run ended, for a run that died without reporting a result."""
        how = describe_exit(self.exitcode)
        if not self.stderr_tail:
            return f"{how}, before reporting a result (it wrote nothing to stderr)"
        return f"{how}, before reporting a result; the end of its stderr:\n{self.stderr_tail}"


def describe_exit(code: int | None) -> str:
    """An exit status as a person reads it: the signal by name, else the exit code."""
    if code is None:
        return "the run process did not end"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the run process was killed by {name}"
    return f"the run process exited with code {code}"


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - TAIL_BYTES))
            data = f.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", "replace").rstrip().splitlines()[-TAIL_LINES:]
    return "\n".join(line[:500] for line in lines)
