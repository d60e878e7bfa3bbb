"""Driving an ASGI middleware directly, in unit tests.

Each call runs on a thread of its own with a fresh event loop: a session fixture (Playwright's
sync API) may hold a running loop on the test thread, where `asyncio.run` refuses to start.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

Message = dict[str, Any]


def run_asgi(
    app: Callable[..., Awaitable[None]], scope: dict[str, Any]
) -> tuple[list[Message], BaseException | None]:
    """Call `app` with an empty request body: what it sent, and what it raised if anything."""
    sent: list[Message] = []
    failure: list[BaseException] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    def run() -> None:
        try:
            asyncio.run(app(scope, receive, send))
        except BaseException as exc:  # handed to the test thread below
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    return sent, failure[0] if failure else None
