"""Run processes: started from a forkserver that has torch loaded, watched, killed for real.

A run must be a process of its own so cancelling it is a kill and its memory is bounded
(`RLIMIT_DATA` inside, a resident-set watchdog outside). Starting Python and importing torch
takes seconds, so runs fork from a server process that imported `repohub.train.runner` once;
the worker process itself never imports torch. If the worker dies, the forkserver sees its
pipe close and exits, and every run it forked gets SIGKILL from the kernel (`PR_SET_PDEATHSIG`).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import signal
from contextlib import suppress
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any

import psutil

PRELOAD = ["repohub.train.runner"]
PR_SET_PDEATHSIG = 1
_context: ForkServerContext | None = None


def context() -> ForkServerContext:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _entry(fields: dict[str, Any], conn: Connection) -> None:
    """The child's first frame: die with the forkserver, then hand over to the runner."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    from repohub.train.runner import child_main  # preloaded by the forkserver: no import cost

    child_main(fields, conn)


class RunProcess:
    """One run: its process and the read end of its event pipe."""

    def __init__(self, fields: dict[str, Any]) -> None:
        ctx = context()
        self._events, sender = ctx.Pipe(duplex=False)
        self.process: BaseProcess = ctx.Process(target=_entry, args=(fields, sender), daemon=True)
        self.process.start()
        sender.close()
        self.peak_rss = 0
        self.closed = False  # the pipe ended: the run finished or died

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
        self.kill()
        self._events.close()
        with suppress(ValueError):
            self.process.close()
