"""A cap on request bodies for everything but git's pack streams (which have their own)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from repohub.api.errors import error_response

STREAMING_SUFFIXES = ("/git-receive-pack", "/git-upload-pack")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path.endswith(STREAMING_SUFFIXES)
            or path.startswith("/lfs-transfer/")
        ):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, f"request body exceeds the limit of {self.max_bytes} bytes")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class LenientJson:
    """Treat a form-typed body that is really JSON as JSON.

    `curl -d '{...}'` labels its body `application/x-www-form-urlencoded`; the README's own
    examples do that, and a person should not need to know to add a Content-Type header.
    Real form bodies (the Hub's paths-info call) never start with `{` or `[`, so they pass.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ()))
        if (
            scope["type"] != "http"
            or not scope["path"].startswith("/api/")
            or headers.get(b"content-type") != b"application/x-www-form-urlencoded"
        ):
            await self.app(scope, receive, send)
            return
        first = await receive()
        if first.get("body", b"").lstrip()[:1] in (b"{", b"["):
            scope = dict(scope)
            scope["headers"] = [
                (k, b"application/json" if k == b"content-type" else v) for k, v in scope["headers"]
            ]
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await receive()

        await self.app(scope, replay, send)
