"""What a request may be: a capped body (git's pack streams have caps of their own), JSON
even when labelled as a form, and a URL without NUL bytes."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from repohub.api.errors import error_response

STREAMING_SUFFIXES = ("/git-receive-pack", "/git-upload-pack")
# Transfers that cap their own bodies: LFS objects, and Xet xorbs and shards (up to 64 MiB).
# The Hub's commit call carries small files inline (base64 NDJSON): it gets a cap of its own.
COMMIT_PATH = re.compile(r"^/api/(?:models|datasets)/[^/]+/[^/]+/commit/")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, commit_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.commit_bytes = commit_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path.endswith(STREAMING_SUFFIXES)
            or path.startswith(("/lfs-transfer/", "/xet-cas/"))
        ):
            await self.app(scope, receive, send)
            return
        limit = self.commit_bytes if COMMIT_PATH.match(path) else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > limit:
                await _too_large(limit, scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server holds a sized body to its size
            return
        body = await _read_up_to(receive, limit)
        if body is None:
            await _too_large(limit, scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(413, f"request body exceeds the limit of {limit} bytes")
    await response(scope, receive, send)


async def _read_up_to(receive: Receive, limit: int) -> bytes | None:
    """A chunked body, read whole before the route sees it (None: it is over `limit`).

    Reading ahead is what lets an oversized chunked body get the same 413 as a sized one: a
    limit hit while a route parses would surface as the framework's own parse error. Bodies
    here are JSON and forms, so holding up to `limit` bytes is the cost a sized body has too.
    """
    parts: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts)  # the client went away; the route sees what came
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class NoNulInUrl:
    """A NUL byte in a URL is a 400 before any route runs.

    No name, revision, git path or search RepoHub knows can hold one (git forbids NUL in
    paths and refs), and letting it through would make the same URL a 404 on SQLite and a
    driver error on PostgreSQL, which refuses NUL in text.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
        ):
            response = error_response(400, "URLs must not contain NUL (%00) bytes")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


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
