"""The child process of a run: limits, then train or evaluate, then a result file.

The worker starts this in a fresh process so that cancelling a job is a real kill and a
memory limit is the kernel's: `RLIMIT_DATA` makes an allocation beyond the limit fail inside
this process instead of the machine running out. Everything the parent learns arrives as
events on `conn`; the result lands in `output_dir/result.json` and the weights beside it.
"""

from __future__ import annotations

import json
import logging
import resource
import traceback
import warnings
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import torch

from repohub.errors import RepoHubError
from repohub.train.evaluate import evaluate
from repohub.train.events import RESULT_FILE, Events
from repohub.train.loop import train
from repohub.train.spec import TrainSpec, parse_spec


@dataclass(frozen=True)
class RunRequest:
    """What the worker materialised for a run; plain data, so it crosses a process boundary."""

    kind: str  # "train" | "eval" | "ab"
    spec: dict[str, Any]
    dataset_dir: str
    output_dir: str
    init_weights: str | None = None
    weights: str | None = None
    base_weights: str | None = None  # ab: the base side's weights (`weights`: the head's)
    threads: int | None = None
    memory_limit_bytes: int | None = None


def run(request: RunRequest, events: Events) -> dict[str, Any]:
    spec = parse_spec(request.spec)
    root, out = Path(request.dataset_dir), Path(request.output_dir)
    if request.kind == "train":
        assert spec.train is not None  # jobs creates train jobs only for specs with a train block
        init = Path(request.init_weights) if request.init_weights else None
        return train(spec.train, root, out, init, events)
    assert request.weights is not None
    if request.kind == "ab":
        return evaluate_pair(spec.train, root, request, events)
    return evaluate(spec.train, root, Path(request.weights), events)


def evaluate_pair(
    train: TrainSpec | None, root: Path, request: RunRequest, events: Events
) -> dict[str, Any]:
    """Both sides on the same test samples (the same split, image size and order); each
    side keeps the normalisation it was trained with, as its own evaluation would."""
    assert request.base_weights is not None and request.weights is not None
    events.log("A/B: evaluating base")
    base = evaluate(train, root, Path(request.base_weights), events)
    events.log("A/B: evaluating head")
    head = evaluate(train, root, Path(request.weights), events)
    return {"kind": "ab", "task": head["task"], "base": base, "head": head}


def child_main(fields: dict[str, Any], conn: Connection) -> None:
    """Entry point of the child process; never raises, always ends with `done` or `error`."""
    request = RunRequest(**fields)
    events = Events(conn.send)
    _route_warnings(events)
    try:
        _limit_memory(request.memory_limit_bytes)
        if request.threads:
            torch.set_num_threads(request.threads)
        result = run(request, events)
        (Path(request.output_dir) / RESULT_FILE).write_text(json.dumps(result))
        conn.send({"type": "done"})
    except RepoHubError as exc:
        conn.send({"type": "error", "message": exc.message})
    except (MemoryError, RuntimeError) as exc:
        conn.send({"type": "error", "message": _describe(exc, request.memory_limit_bytes)})
    except Exception as exc:
        detail = traceback.format_exc(limit=8)
        conn.send({"type": "error", "message": f"{type(exc).__name__}: {exc}", "detail": detail})
    finally:
        conn.close()


def _limit_memory(limit: int | None) -> None:
    """Cap the data segment; not on a GPU, whose driver maps large regions of its own."""
    if limit and not torch.cuda.is_available():
        resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.RLIM_INFINITY))


def _describe(exc: BaseException, limit: int | None) -> str:
    text = str(exc)
    if isinstance(exc, MemoryError) or "can't allocate memory" in text:
        cap = f" of {limit // 1024**2} MB" if limit else ""
        return f"the run reached its memory limit{cap} (train.resources.memory_mb raises it)"
    return f"{type(exc).__name__}: {text.strip().splitlines()[0] if text.strip() else ''}"


def _route_warnings(events: Events) -> None:
    """Warnings and log records become job log lines, where the user looks for them."""

    class _ToEvents(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            events.log(self.format(record))

    logging.captureWarnings(True)
    warnings.simplefilter("default")
    root = logging.getLogger()
    root.handlers = [_ToEvents()]
    root.setLevel(logging.WARNING)
