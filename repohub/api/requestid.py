"""A request id on every answer (`X-Request-Id`) and in the log line of that request.

The Hub client quotes `X-Request-Id` in every error it raises, so a user's bug report names
the request; the server's log line for it carries the same id, so an operator finds it.
A caller's own id is kept when it is well-formed (a proxy's or a client's, tying its logs to
ours); huggingface_hub sends none but puts a random `X-Amzn-Trace-Id` on every request and
logs that, so it is the next choice; otherwise the id is a fresh uuid4.

One middleware does both, so no route can answer without an id or be missing from the log,
not even an answer from another middleware (413, 400) or an unhandled exception's 500.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from repohub.api.headers import header_text

REQUEST_ID = "x-request-id"
TRACE_ID = "x-amzn-trace-id"
WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,200}")
logger = logging.getLogger("repohub.access")


def choose_request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's `X-Request-Id`, else its `X-Amzn-Trace-Id`, when well-formed (1-200 of
    `[A-Za-z0-9._-]`: safe in a header and a log line as it is); else a new uuid4 hex."""
    sent = {name.lower(): value for name, value in headers}
    for name in (REQUEST_ID, TRACE_ID):
        value = sent.get(name.encode(), b"").decode("latin-1").strip()
        if WELL_FORMED.fullmatch(value):
            return value
    return uuid.uuid4().hex


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at each line (a test runner swaps it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):  # type: ignore[no-untyped-def, override]
        return sys.stderr


def _ensure_handler() -> None:
    """uvicorn configures only its own loggers, so unless logging is configured (a handler
    on the root logger or this one), this logger writes to stderr itself, beside uvicorn."""
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = _Stderr()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class RequestId:
    """Set `X-Request-Id` on the answer, `scope["state"]["request_id"]` for handlers, and log
    one line per request: id, method, path, status, milliseconds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        _ensure_handler()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = choose_request_id(scope.get("headers") or [])
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.monotonic()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers") or [] if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # The traceback follows from uvicorn; this line ties it to the request id.
            _log(logging.ERROR, request_id, scope, status or 500, started, type(exc).__name__)
            if not status:
                await _internal_error(send_with_id, request_id)
            raise
        _log(logging.INFO, request_id, scope, status, started)


def _log(
    level: int, request_id: str, scope: Scope, status: int, started: float, error: str = ""
) -> None:
    path = header_text(scope.get("path", ""), 300)  # escaped: no line breaks from a URL
    ms = (time.monotonic() - started) * 1000
    suffix = f" error={error}" if error else ""
    logger.log(
        level,
        "request_id=%s %s %s %d %.1fms%s",
        request_id,
        scope.get("method", ""),
        path,
        status,
        ms,
        suffix,
    )


async def _internal_error(send: Send, request_id: str) -> None:
    """A 500 in the Hub's shape that names the request, sent before the exception goes on
    (the server's own 500 would then find the answer started and send nothing)."""
    message = f"Internal error: quote request id {request_id} when reporting it"
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-error-message", message.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
