"""What a run tells its parent while it works: log lines, progress, metric points.

A run is a child process; its events cross a pipe as small dicts, and the worker turns them
into job rows (heartbeat, live curves, logs). A parent that went away makes `send` raise,
which ends the run: nobody is left to read its result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Send = Callable[[dict[str, Any]], None]
RESULT_FILE = "result.json"  # what a finished run leaves in its output directory


class Events:
    def __init__(self, send: Send) -> None:
        self._send = send
        self._started = time.monotonic()

    def log(self, message: str) -> None:
        self._send({"type": "log", "line": message})

    def progress(self, step: int, total_steps: int, epoch: int, epochs: int) -> None:
        elapsed = time.monotonic() - self._started
        eta = elapsed / step * (total_steps - step) if step else None
        self._send(
            {
                "type": "progress",
                "step": step,
                "total_steps": total_steps,
                "epoch": epoch,
                "epochs": epochs,
                "eta_seconds": None if eta is None else round(eta, 1),
            }
        )

    def metric(self, scope: str, step: int, epoch: int, values: dict[str, float]) -> None:
        rounded = {k: round(float(v), 6) for k, v in values.items()}
        self._send(
            {"type": "metric", "scope": scope, "step": step, "epoch": epoch, "values": rounded}
        )
