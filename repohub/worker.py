"""The job worker: a Celery worker, the scheduler beside it, and `serve`'s embedded worker.

`repohub worker` runs Celery with a thread pool (a task only watches its run, which is a
process of its own) and the scheduler that dispatches queued jobs and reaps lost ones. The
forkserver runs start from (and its torch import) starts with the first job, so an idle
worker beside `repohub serve` costs little. At start a worker probes, in a child process,
whether torch imports; one that cannot run jobs says so in one log line, takes no jobs and
runs only the scheduler, and its row in `job_workers` tells every scheduler so.
`repohub serve` starts one such worker as a child process (`embedded_worker`) and restarts
it if it dies, so a one-machine install trains without any outside service.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from repohub.config import Settings

logger = logging.getLogger("repohub.worker")
PR_SET_PDEATHSIG = 1
RESTART_DELAY = 1.0
STOP_GRACE = 10.0


def run_worker(
    settings: Settings,
    *,
    queues: str | None = None,
    concurrency: int | None = None,
    name: str | None = None,
) -> None:
    """Run until stopped (SIGTERM: finish running jobs first; SIGQUIT: stop now).

    `name` identifies the worker (Celery node name, scheduler lease holder); a worker that
    replaces a dead one under the same name takes its scheduler lease back at once."""
    from repohub.jobs import workers
    from repohub.jobs.celery_app import make_celery, sender
    from repohub.jobs.scheduler import Scheduler
    from repohub.jobs.tasks import register
    from repohub.repos.context import Hub

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    hub = Hub.build(settings)
    app = make_celery(settings)
    register(app, hub)
    name = name or f"repohub-{os.getpid()}@{socket.gethostname()}"
    queues = queues or settings.worker_queues
    stop = threading.Event()
    scheduler = Scheduler(hub, sender(app), name)
    threading.Thread(target=scheduler.run, args=(stop,), name="scheduler", daemon=True).start()
    reason = workers.probe_training()
    listed = tuple(q.strip() for q in queues.split(",") if q.strip())
    me = workers.Me(name, socket.gethostname(), os.getpid(), listed, reason)
    presence = workers.Presence(hub, me).start(stop)
    try:
        if reason is not None:
            logger.error("this worker cannot run training jobs: %s", reason)
            _idle_until_stopped(stop)
            return
        app.worker_main(
            [
                "worker",
                "--pool=threads",
                f"--concurrency={concurrency or settings.worker_concurrency}",
                f"--queues={queues}",
                f"--hostname={name}",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--loglevel=INFO",
            ]
        )
    finally:
        stop.set()
        presence.join(timeout=STOP_GRACE)
        hub.close()


def _idle_until_stopped(stop: threading.Event) -> None:
    """A worker that takes no jobs still schedules (and beats) until SIGTERM/SIGQUIT/SIGINT:
    it does not exit, so `serve` does not restart it over and over."""
    for sig in (signal.SIGTERM, signal.SIGQUIT, signal.SIGINT):
        signal.signal(sig, lambda _sig, _frame: stop.set())
    while not stop.wait(1.0):
        pass


def die_with_parent(expected_parent: int) -> None:
    """Ask the kernel to kill this process when its parent (`repohub serve`) dies."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != expected_parent:  # the parent died before the request took effect
        sys.exit(0)


@contextmanager
def embedded_worker(settings: Settings) -> Iterator[None]:
    """A worker process beside the server for as long as the block runs."""
    if not settings.serve_worker:
        yield
        return
    parent = os.getpid()
    name = f"serve-{parent}@{socket.gethostname()}"
    supervisor = _Supervisor(
        [sys.executable, "-m", "repohub.cli", "worker", "--parent", str(parent), "--name", name]
    )
    supervisor.start()
    try:
        yield
    finally:
        supervisor.stop()


class _Supervisor:
    """Keeps one worker process running; a worker that dies (killed, crashed) is restarted."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._keep, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _keep(self) -> None:
        while not self._stopping.is_set():
            self._process = subprocess.Popen(self.command, start_new_session=True)
            code = self._process.wait()
            if self._stopping.is_set():
                return
            logger.warning("job worker exited with status %s; restarting it", code)
            self._stopping.wait(RESTART_DELAY)

    def stop(self) -> None:
        self._stopping.set()
        process = self._process
        if process is None or process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGQUIT, signal.SIGKILL):  # warm, cold, dead
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=STOP_GRACE)
                return
            except subprocess.TimeoutExpired:
                continue
