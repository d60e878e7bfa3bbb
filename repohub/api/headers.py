"""The one rule for user text in response headers, and the guard that holds every route to it.

HTTP header values are bytes without control characters; a NUL, CR or LF there makes the ASGI
server drop the connection (the client sees no answer at all) and, worse, a CR LF pair would
let user input write headers of its own. So text that may hold user input passes through
`header_text` before it becomes a header value: control and non-ASCII characters are written
as escapes (`\\x00`, `\\u00e9`), which keeps the value readable and unambiguous, and long
text is cut. Bodies carry the full message, JSON-escaped.

`HeaderGuard` sits outermost and applies the same rule to every header of every response, so a
route that forgets the rule still answers (with the escaped value) instead of dropping the
connection.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER_TEXT_LIMIT = 500
_PRINTABLE = frozenset(range(0x20, 0x7F)) | {0x09}


def header_text(text: str, limit: int = HEADER_TEXT_LIMIT) -> str:
    """`text` as a safe header value: printable ASCII kept, everything else escaped, cut."""
    if text.isascii() and text.isprintable():
        return text[:limit]
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    safe = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in escaped)
    return safe[:limit]


def body_text(text: str) -> str:
    """`text` as an answer body (JSON or plain) can carry it: a lone surrogate (from an
    undecodable byte or a JSON `\\udcff` escape) would fail the UTF-8 encoding of the whole
    answer, so it is written as an escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def is_header_safe(value: bytes) -> bool:
    return all(byte in _PRINTABLE for byte in value)


def _safe_value(value: bytes) -> bytes:
    return value if is_header_safe(value) else header_text(value.decode("latin-1"), 4096).encode()


class HeaderGuard:
    """Escape any header value that would break the response (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                if not all(is_header_safe(v) for _, v in headers):
                    message = {**message, "headers": [(k, _safe_value(v)) for k, v in headers]}
            await send(message)

        await self.app(scope, receive, guarded_send)
