"""Small rules behind repo management: gating modes, request ids, and the request-id
middleware's answers (including the 500 of an unhandled exception), without a server."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.types import Message, Receive, Scope, Send

from repohub.api.requestid import RequestId, choose_request_id
from repohub.errors import InvalidArgument
from repohub.repos.names import validate_gated
from tests.support.asgi import run_asgi

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize(
    ("given", "stored"), [("auto", "auto"), ("manual", "manual"), (False, None)]
)
def test_gated_modes(given: str | bool, stored: str | None) -> None:
    assert validate_gated(given) == stored


@pytest.mark.parametrize("given", ["", "Auto", "true", True, "none"])
def test_bad_gated_modes(given: str | bool) -> None:
    with pytest.raises(InvalidArgument):
        validate_gated(given)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"x-request-id", b"abc-1.2_3")], "abc-1.2_3"),
        ([(b"X-Request-Id", b"  padded  ")], "padded"),
        ([(b"x-amzn-trace-id", b"0f3c-41")], "0f3c-41"),
        ([(b"x-request-id", b"mine"), (b"x-amzn-trace-id", b"trace")], "mine"),
        ([(b"x-request-id", b"a" * 200)], "a" * 200),
    ],
)
def test_caller_ids_kept(headers: list[tuple[bytes, bytes]], expected: str) -> None:
    assert choose_request_id(headers) == expected


@pytest.mark.parametrize(
    "value", [b"", b"a" * 201, b"two words", b"x\r\ny", b"caf\xc3\xa9", b"Root=1-abc", b"a;b"]
)
def test_malformed_ids_replaced(value: bytes) -> None:
    assert HEX32.fullmatch(choose_request_id([(b"x-request-id", value)]))


def _run(app: RequestId, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    scope: Scope = {"type": "http", "method": "GET", "path": "/x\n", "headers": headers}
    sent, error = run_asgi(app, scope)
    assert error is None or str(error) == "boom", error
    return sent


def _ok(status: int) -> RequestId:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"x-request-id", b"z")]}
        )
        await send({"type": "http.response.body", "body": b"{}"})

    return RequestId(inner)


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The access logger may write to stderr without propagating (see `_ensure_handler`)."""
    monkeypatch.setattr(logging.getLogger("repohub.access"), "propagate", True)
    return caplog


def test_answer_carries_one_id_and_the_log_line_names_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="repohub.access"):
        sent = _run(_ok(404), [(b"x-request-id", b"given-1")])
    ids = [v for k, v in sent[0]["headers"] if k == b"x-request-id"]
    assert ids == [b"given-1"], "the route's own header is replaced, never doubled"
    line = caplog.records[-1].getMessage()
    assert line.startswith("request_id=given-1 GET /x\\x0a 404 "), line


def test_unhandled_exception_answers_500_with_the_id(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.INFO, logger="repohub.access"):
        sent = _run(RequestId(broken), [])
    start = sent[0]
    assert start["status"] == 500
    request_id = dict(start["headers"])[b"x-request-id"].decode()
    assert HEX32.fullmatch(request_id)
    assert request_id.encode() in sent[1]["body"]
    record = caplog.records[-1]
    assert record.levelno == logging.ERROR
    assert f"request_id={request_id} GET" in record.getMessage()
    assert "error=RuntimeError" in record.getMessage()
