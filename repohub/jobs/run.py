"""One job on a worker, start to end: claim, check the spec, fetch inputs, run, store.

This is the body of the Celery task. It is the only place `repohub.jobs` reaches into
`repohub.train` (the spec check, inside `execute`), so importing the jobs package (as the API
does) never loads torch. Every way a job can end is written to its row here: a bad spec or
input fails it at once with a message naming the field, a cancel kills the run, a run over
its memory or time limit is killed and fails; a run that dies without a result (a signal,
an exit, an import that fails) fails with its exit status and the end of its stderr; an
unexpected error fails the job and leaves the worker running.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from repohub.db.jobs import Job, Report
from repohub.db.models import Repo
from repohub.errors import RepoHubError
from repohub.jobs import inputs, outputs, states
from repohub.jobs.child import RunProcess
from repohub.jobs.recorder import Recorder
from repohub.repos.context import Hub

logger = logging.getLogger(__name__)
MB = 1024 * 1024


class Stop(RepoHubError):
    """The run ended without a result; `state` says how (failed or cancelled)."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True)
class Prepared:
    """What the run process gets, and what the report says about where it came from."""

    request: dict[str, Any]
    context: dict[str, Any]
    metrics: tuple[str, ...] | None
    memory_limit: int


def execute(hub: Hub, job_id: int, token: str) -> str | None:
    """Run the job if this message may claim it; return its final state (None: not ours)."""
    host = socket.gethostname()
    with hub.sessions.begin() as session:
        if not states.claim(session, job_id, token, host, os.getpid()):
            return None
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
    recorder = Recorder(hub, job_id, token)
    recorder.clear_metrics()
    recorder.log(f"attempt {job.attempts} started on {host}")
    workdir = hub.settings.resolved_cache_dir / "runs" / f"{job_id}-{token}"
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        final, error = _execute(hub, job, recorder, workdir, started)
    except Exception as exc:  # a bug must fail one job, not the worker
        logger.exception("job %d failed unexpectedly", job_id)
        final, error = states.FAILED, f"internal error: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if error:
        recorder.log(error)
    recorder.log(f"{final} after {time.monotonic() - started:.1f} s")
    recorder.flush()
    with hub.sessions.begin() as session:
        states.finish(session, job_id, token, final, error)
    return final


def _execute(
    hub: Hub, job: Job, recorder: Recorder, workdir: Path, started: float
) -> tuple[str, str]:
    try:
        with recorder.beating(hub.settings.job_heartbeat_interval):
            prepared = prepare(hub, job, recorder, workdir)
        result = supervise(hub, prepared, recorder)
    except Stop as stop:
        return stop.state, stop.message
    except RepoHubError as exc:
        return states.FAILED, exc.message
    weights = None
    weights_file = workdir / "out" / "weights.safetensors"
    if job.kind == "train" and weights_file.exists():
        weights = outputs.store_weights(hub, job.network_id, weights_file)
        recorder.log(f"weights stored as LFS object {weights[0]} ({weights[1]:,} bytes)")
    context = {**prepared.context, "duration_seconds": round(time.monotonic() - started, 3)}
    outputs.save_report(hub, job, result, context, prepared.metrics, weights)
    return states.SUCCEEDED, ""


def prepare(hub: Hub, job: Job, recorder: Recorder, workdir: Path) -> Prepared:
    """Validate the spec (naming the field at fault) and materialise the inputs."""
    from repohub.train.spec import RepoRef, parse_spec  # the worker's side of the layer rule

    runnable = {k: v for k, v in job.spec.items() if k != "ab"}
    spec = parse_spec(runnable)
    with hub.sessions() as session:
        identity = inputs.identity_of(session, job.user_id)

    def at(ref: RepoRef, field: str) -> inputs.RepoAt:
        return inputs.RepoAt(ref.owner, ref.name, ref.revision, field)

    out = workdir / "out"
    out.mkdir()
    request: dict[str, Any] = {"kind": job.kind, "spec": runnable, "output_dir": str(out)}
    context: dict[str, Any] = {"job": _job_info(job), "spec": job.spec}
    if job.kind != "ab" and getattr(spec, job.kind) is None:
        raise Stop(states.FAILED, f"{job.kind}: the spec's {job.kind} block is empty")
    if job.kind == "ab":
        assert spec.eval is not None
        data = inputs.dataset(hub, identity, at(spec.eval.dataset, "eval.dataset"))
        sides = job.spec["ab"]
        request["base_weights"] = str(inputs.artifact(hub, sides["base"]["weights_oid"], workdir))
        request["weights"] = str(inputs.artifact(hub, sides["head"]["weights_oid"], workdir))
        context["ab"] = sides
        metrics = None
        memory_mb = spec.train.resources.memory_mb if spec.train else None
    elif job.kind == "train":
        assert spec.train is not None
        data = inputs.dataset(hub, identity, at(spec.train.dataset, "train.dataset"))
        if spec.train.init is not None:
            path, source = inputs.repo_weights(
                hub, identity, at(spec.train.init, "train.init"), workdir
            )
            request["init_weights"], context["init"] = str(path), source
        context["hyperparameters"] = _hyperparameters(spec.train)
        metrics = None
        memory_mb = spec.train.resources.memory_mb
    else:
        assert spec.eval is not None
        data = inputs.dataset(hub, identity, at(spec.eval.dataset, "eval.dataset"))
        path, source = _eval_weights(hub, job, identity, workdir)
        request["weights"], context["weights_source"] = str(path), source
        metrics = spec.eval.metrics
        memory_mb = spec.train.resources.memory_mb if spec.train else None
        if spec.train:
            context["hyperparameters"] = _hyperparameters(spec.train)
    recorder.log(f"dataset {data.info['repo']}@{data.info['commit'][:12]} ready")
    limit = (memory_mb or hub.settings.job_memory_limit_mb) * MB
    request |= {
        "dataset_dir": str(data.path),
        "threads": hub.settings.job_threads,
        "memory_limit_bytes": limit,
    }
    return Prepared(request, {**context, "dataset": data.info}, metrics, limit)


def _job_info(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "commit": job.commit_sha,
        "ref": job.ref,
        "spec_hash": job.spec_hash,
        "trigger": job.trigger,
        "attempt": job.attempts,
    }


def _hyperparameters(train: Any) -> dict[str, Any]:
    fields = asdict(train)
    fields["dataset"] = str(train.dataset)
    fields["init"] = str(train.init) if train.init else None
    return fields


def _eval_weights(hub: Hub, job: Job, identity: Any, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """After a train job: its artifact. Otherwise the weights the job's commit holds."""
    if job.depends_on_id is not None:
        with hub.sessions() as session:
            report = session.scalar(select(Report).where(Report.job_id == job.depends_on_id))
        if report is None or report.weights_oid is None:
            raise Stop(states.FAILED, f"eval: train job {job.depends_on_id} left no weights")
        path = inputs.artifact(hub, report.weights_oid, workdir)
        return path, {"source": f"job {job.depends_on_id}", "oid": report.weights_oid}
    with hub.sessions() as session:
        repo = session.get(Repo, job.repo_id)
        assert repo is not None
        owner, name = repo.owner.name, repo.name
    return inputs.repo_weights(
        hub, identity, inputs.RepoAt(owner, name, job.commit_sha, "eval"), workdir
    )


def supervise(hub: Hub, prepared: Prepared, recorder: Recorder) -> dict[str, Any]:
    """Start the run and watch it: events, heartbeats, cancel, memory and time limits."""
    from repohub.train.events import RESULT_FILE  # torch-free; train is reached only here

    settings = hub.settings
    run = RunProcess(prepared.request, Path(prepared.request["output_dir"]).parent)
    deadline = time.monotonic() + settings.job_time_limit
    next_beat = 0.0
    try:
        while True:
            for event in run.events(timeout=min(0.5, settings.job_heartbeat_interval)):
                recorder.take(event)
            if run.rss() > prepared.memory_limit:
                raise Stop(states.FAILED, _over_memory(prepared.memory_limit, run.peak_rss))
            if time.monotonic() > deadline:
                raise Stop(states.FAILED, f"the run took longer than {settings.job_time_limit:g} s")
            finished = recorder.done or recorder.error is not None or (run.closed and not run.alive)
            if finished or time.monotonic() >= next_beat:
                beat = recorder.flush()
                next_beat = time.monotonic() + settings.job_heartbeat_interval
                if beat.cancel:
                    raise Stop(states.CANCELLED, "cancelled while running: the run was killed")
                if not beat.alive:
                    raise Stop(states.FAILED, "the job was taken from this worker")
            if finished:
                break
    finally:
        run.close()
    if recorder.error is not None:
        raise Stop(states.FAILED, recorder.error)
    if not recorder.done:  # it died without a word: its exit status and stderr say why
        ending = run.ending()
        logger.warning("job %d: %s", recorder.job_id, ending)
        raise Stop(states.FAILED, ending)
    return json.loads((Path(prepared.request["output_dir"]) / RESULT_FILE).read_text())


def _over_memory(limit: int, peak: int) -> str:
    return (
        f"the run used {peak // MB} MB, over its memory limit of {limit // MB} MB: killed "
        "(train.resources.memory_mb raises it)"
    )
