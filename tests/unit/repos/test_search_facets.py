"""Facet menus are counted by one thread at a time; the others wait on a cold start and keep
the old menu while it is recounted."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from repohub.repos import search


class _Sessions:
    """Stands in for a hub's session factory: the per-hub memory is keyed by it."""


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    calls: list[float] = []

    def slow_count(_hub: Any, _repo_type: str, _column: Any, _limit: int) -> list[str]:
        calls.append(time.monotonic())
        time.sleep(0.2)
        return [f"value-{len(calls)}"]

    monkeypatch.setattr(search, "_count_facet", slow_count)
    return calls


def _many(hub: Any, n: int = 8) -> list[list[str]]:
    answers: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(search.facet_values(hub, "model", "task")))
        for _ in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_a_cold_start_counts_once_and_everyone_gets_the_count(counting: list[float]) -> None:
    hub = SimpleNamespace(sessions=_Sessions())
    assert _many(hub) == [["value-1"]] * 8
    assert len(counting) == 1


def test_a_stale_menu_is_served_while_one_thread_recounts(
    counting: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = SimpleNamespace(sessions=_Sessions())
    assert search.facet_values(hub, "model", "task") == ["value-1"]
    monkeypatch.setattr(search, "FACET_TTL", 0.0)  # everything is stale now
    started = time.monotonic()
    answers = _many(hub)
    assert len(counting) == 2  # one recount, not eight
    assert sorted(answers).count(["value-1"]) == 7 and ["value-2"] in answers
    assert time.monotonic() - started < 0.2 * 3  # the seven did not queue behind it
