"""A running job's live record: its run's events become log rows, curve points, progress
and heartbeats, written in one transaction per heartbeat so a fast run cannot flood the
database with one commit per step."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete

from repohub.db.jobs import JobLogLine, JobMetric
from repohub.jobs import states
from repohub.repos.context import Hub

MAX_LINE = 4000


class Recorder:
    def __init__(self, hub: Hub, job_id: int, token: str) -> None:
        self.hub, self.job_id, self.token = hub, job_id, token
        self.progress: dict[str, Any] | None = None
        self.error: str | None = None
        self.done = False
        self._lines: list[str] = []
        self._metrics: list[JobMetric] = []
        self._lock = threading.Lock()  # `beating` flushes from a thread of its own

    def log(self, line: str) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        with self._lock:
            self._lines.append(f"[{stamp}] {line}"[:MAX_LINE])

    def take(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "log":
            self.log(str(event.get("line", "")))
        elif kind == "progress":
            self.progress = {k: v for k, v in event.items() if k != "type"}
        elif kind == "metric":
            point = JobMetric(
                job_id=self.job_id,
                scope=str(event["scope"]),
                step=int(event["step"]),
                epoch=int(event["epoch"]),
                values=dict(event["values"]),
            )
            with self._lock:
                self._metrics.append(point)
        elif kind == "error":
            self.error = str(event.get("message") or "the run failed")
            if event.get("detail"):
                self.log(str(event["detail"]))
        elif kind == "done":
            self.done = True

    def flush(self) -> states.Beat:
        """Write what arrived and beat; the answer says whether to go on (or cancel)."""
        with self._lock:
            lines, metrics = self._lines, self._metrics
            self._lines, self._metrics = [], []
        with self.hub.sessions.begin() as session:
            session.add_all(JobLogLine(job_id=self.job_id, line=line) for line in lines)
            session.add_all(metrics)
            return states.beat(session, self.job_id, self.token, self.progress)

    @contextmanager
    def beating(self, interval: float) -> Iterator[None]:
        """Beat from a thread while the caller blocks (materialising a large dataset), so
        the reaper does not take a slow download for a dead worker."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(interval):
                self.flush()

        thread = threading.Thread(target=beat, name=f"job-{self.job_id}-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def clear_metrics(self) -> None:
        """A new attempt draws its curves from scratch."""
        with self.hub.sessions.begin() as session:
            session.execute(delete(JobMetric).where(JobMetric.job_id == self.job_id))
