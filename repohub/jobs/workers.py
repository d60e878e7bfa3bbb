"""Which workers are alive and what they can run, kept in the database for every machine.

Every job kind (train, eval, ab) runs torch, which a worker installed without RepoHub's
`train` extra lacks. Such a worker must not take jobs only to fail them, so at start it
probes (imports the run's module in a child process: the worker itself never loads torch),
records the answer here and beats while it runs. The scheduler dispatches a job only to a
queue some live worker that can train takes from; otherwise the job stays queued and its
`waiting_reason` says why, until a capable worker appears.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from repohub.db.jobs import JobWorker
from repohub.db.models import utcnow
from repohub.repos.context import Hub

logger = logging.getLogger(__name__)
RUN_MODULE = "repohub.train.runner"  # what a run's forkserver preloads (see `child.PRELOAD`)
PROBE_TIMEOUT = 300.0  # importing torch on a loaded machine can take a while
NO_TRAIN = "no worker can run training jobs"


def probe_training() -> str | None:
    """None if this installation can run jobs; otherwise why not, in one line."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", f"import {RUN_MODULE}"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"importing torch took longer than {PROBE_TIMEOUT:g} s"
    except OSError as exc:
        return f"could not start Python to import torch: {exc}"
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    last = lines[-1][:300] if lines else f"exit code {done.returncode}"
    if last.startswith(("ModuleNotFoundError", "ImportError")):
        return f"torch is not installed (install RepoHub with the `train` extra): {last}"
    return f"the training runtime does not load: {last}"


@dataclass(frozen=True)
class Me:
    """This worker, as its row says."""

    name: str
    host: str
    pid: int
    queues: tuple[str, ...]
    reason: str | None  # None: it can run jobs

    def row(self) -> JobWorker:
        return JobWorker(
            name=self.name[:64],
            host=self.host[:255],
            pid=self.pid,
            queues=",".join(self.queues)[:255],
            can_train=self.reason is None,
            reason=self.reason or "",
            started_at=utcnow(),
            seen_at=utcnow(),
        )


def announce(session: Session, me: Me) -> None:
    """(Re)write this worker's row: a worker restarted under the same name replaces it."""
    session.execute(delete(JobWorker).where(JobWorker.name == me.name[:64]))
    session.add(me.row())


def beat(session: Session, me: Me) -> None:
    seen = session.execute(
        update(JobWorker).where(JobWorker.name == me.name[:64]).values(seen_at=utcnow())
    ).rowcount  # type: ignore[attr-defined]
    if not seen:  # removed meanwhile (a cleanup, a restore): write it again
        session.add(me.row())


def retire(session: Session, name: str) -> None:
    session.execute(delete(JobWorker).where(JobWorker.name == name[:64]))


def live(session: Session, since: datetime) -> list[JobWorker]:
    return list(session.scalars(select(JobWorker).where(JobWorker.seen_at >= since)).all())


def waiting_reasons(workers: Sequence[JobWorker], queues: Iterable[str]) -> dict[str, str]:
    """Per queue that no live capable worker takes from, why its jobs wait ("" for the
    others): the workers that take from it but cannot train, or that none takes from it."""
    reasons = {}
    for queue in set(queues):
        serving = [w for w in workers if queue in w.queues.split(",")]
        if any(w.can_train for w in serving):
            reasons[queue] = ""
        elif serving:
            why = "; ".join(f"{w.name}: {w.reason}" for w in serving[:3])
            reasons[queue] = f"{NO_TRAIN}: {why}"
        else:
            reasons[queue] = f"{NO_TRAIN}: no live worker takes jobs from the {queue} queue"
    return reasons


class Presence:
    """This worker's row, written at start, beaten from a thread, removed at stop."""

    def __init__(self, hub: Hub, me: Me) -> None:
        self.hub, self.me = hub, me
        settings = hub.settings
        # A quarter of the time after which the scheduler takes the worker for dead: a few
        # missed beats (a busy database) do not make a live worker vanish.
        self.interval = max(settings.job_heartbeat_timeout / 4, 0.2)

    def run(self, stop: threading.Event) -> None:
        """Announce, then beat until `stop` is set; a database hiccup is retried next beat."""
        announced = False
        while True:
            try:
                with self.hub.sessions.begin() as session:
                    (beat if announced else announce)(session, self.me)
                announced = True
            except Exception:
                logger.exception("could not record this worker in the database")
            if stop.wait(self.interval):
                break
        try:
            with self.hub.sessions.begin() as session:
                retire(session, self.me.name)
        except Exception:
            logger.exception("could not remove this worker from the database")

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="presence", daemon=True)
        thread.start()
        return thread


def liveness_window(timeout_seconds: float) -> datetime:
    """Rows seen since then belong to live workers."""
    return utcnow() - timedelta(seconds=timeout_seconds)
