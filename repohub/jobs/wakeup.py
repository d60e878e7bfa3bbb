"""A nudge for the scheduler on the same machine: new jobs are dispatched at once.

The scheduler polls the jobs table every `scheduler_interval`; on one machine (the embedded
default) the post-receive hook and the API also touch a file under the data directory when
they create jobs, and the scheduler, which watches that file's modification time, runs at
once. Across machines the poke is simply not seen and the poll does the work.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import suppress
from pathlib import Path

FILE = "jobs.wakeup"
CHECK_EVERY = 0.05  # a stat() per check: far cheaper than a database scan


def poke(data_dir: Path) -> None:
    path = data_dir / FILE
    with suppress(OSError):
        path.touch()
        os.utime(path)


class Waiter:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE
        self._seen = self._mtime()

    def _mtime(self) -> int:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return 0

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Return after `timeout`, when poked, or when `stop` is set, whichever comes first."""
        deadline = time.monotonic() + timeout
        while not stop.wait(min(CHECK_EVERY, max(deadline - time.monotonic(), 0))):
            mtime = self._mtime()
            if mtime != self._seen:
                self._seen = mtime
                return
            if time.monotonic() >= deadline:
                return
