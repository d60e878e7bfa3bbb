"""C git's ``git http-backend`` behind a small threaded HTTP server: the benchmark's reference.

Why not Apache or nginx+fcgiwrap: neither is installed here, and the figure that matters is the
ratio against C git's own pack machinery (``upload-pack``/``receive-pack``, which
``http-backend`` runs), not a web server. The front end adds one process spawn per request and
a copy through a pipe, the same kind of overhead any CGI deployment of C git has.

Run on its own (it prints ``LISTENING <port>`` once ready, then serves until SIGTERM)::

    python benchmarks/_cgit_server.py --root /tmp/repos --port 0

The file is deliberately self-contained (no package imports) so it can run as a separate
process, whose memory the benchmark samples apart from its own.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

_COPY_CHUNK = 1024 * 1024
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade"}


@functools.cache
def backend_path() -> str:
    """Where this git keeps ``git-http-backend`` (it is not on PATH)."""
    exec_path = subprocess.run(
        ["git", "--exec-path"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return str(Path(exec_path) / "git-http-backend")


def init_bare_repo(path: Path) -> None:
    """Create an empty bare repository that accepts pushes over HTTP.

    ``receive.unpackLimit=1`` keeps every pushed pack as a pack: with git's default of 100, a
    push of three 100 MB blobs would be exploded into loose objects, and C git would then serve
    its clone from loose files (several times slower), making the reference look worse than a
    sensibly configured C git server. RepoHub also stores pushes as packs, so this is the
    like-for-like setting.
    """
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "--initial-branch=main", str(path)], check=True
    )
    for key, value in (("http.receivepack", "true"), ("receive.unpackLimit", "1")):
        subprocess.run(["git", "config", "--file", str(path / "config"), key, value], check=True)


class _CgiServer(ThreadingHTTPServer):
    """Holds what every request needs: the project root, the backend's log and its env."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], root: Path, log: BinaryIO) -> None:
        super().__init__(address, _CgiHandler)
        self.root = root
        self.log = log
        self.base_env = _base_env(root)


def _base_env(root: Path) -> dict[str, str]:
    """A clean CGI environment: no inherited GIT_* or proxy variables, no user git config."""
    home = root.parent / "cgit-home"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "repohub-bench-cgit",
    }


class _CgiHandler(BaseHTTPRequestHandler):
    """Runs one ``git http-backend`` per request, streaming both directions."""

    protocol_version = "HTTP/1.1"  # keep-alive, as git's curl expects from a real server
    disable_nagle_algorithm = True  # small chunk framing writes must not wait for delayed ACKs
    server: _CgiServer

    def do_GET(self) -> None:
        self._run_backend()

    def do_POST(self) -> None:
        self._run_backend()

    def log_message(self, format: str, *args: object) -> None:
        """Silence per-request logging: it would cost time inside the measurement."""

    def _run_backend(self) -> None:
        path, _, query = self.path.partition("?")
        env = self._cgi_env(path, query)
        with subprocess.Popen(
            [backend_path()],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.server.log,
        ) as proc:
            assert proc.stdin is not None and proc.stdout is not None
            feeder = threading.Thread(target=self._feed_body, args=(proc.stdin,), daemon=True)
            feeder.start()
            status, reason, headers = _read_cgi_headers(proc.stdout)
            self._relay_response(status, reason, headers, proc.stdout)
            feeder.join()
            proc.wait()

    def _cgi_env(self, path: str, query: str) -> dict[str, str]:
        env = dict(self.server.base_env)
        env.update(
            REQUEST_METHOD=self.command,
            PATH_INFO=path,
            QUERY_STRING=query,
            REMOTE_ADDR=self.client_address[0],
            REMOTE_USER=self._remote_user(),
            SERVER_PROTOCOL=self.request_version,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
        )
        if "Content-Length" in self.headers:
            env["CONTENT_LENGTH"] = self.headers["Content-Length"]
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_AUTHORIZATION"):
                env[key] = value  # includes Git-Protocol (v2) and Content-Encoding (gzip)
        return env

    def _remote_user(self) -> str:
        """The Basic-auth user if one was sent; receive-pack is enabled regardless."""
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                return base64.b64decode(auth[6:]).decode().partition(":")[0] or "anonymous"
            except ValueError:
                return "anonymous"
        return "anonymous"

    def _feed_body(self, sink: BinaryIO) -> None:
        """Copy the request body to the backend, de-chunking it if needed.

        The whole body is always read from the socket, even if the backend stopped reading
        early, so the next request on this keep-alive connection starts at the right byte.
        """
        broken = False
        for piece in self._body_pieces():
            if broken:
                continue
            try:
                sink.write(piece)
            except BrokenPipeError:
                broken = True
        with contextlib.suppress(BrokenPipeError):
            sink.close()

    def _body_pieces(self) -> Iterator[bytes]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            yield from _read_chunked(self.rfile)
            return
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            piece = self.rfile.read(min(_COPY_CHUNK, remaining))
            if not piece:
                raise ConnectionError("request body ended early")
            remaining -= len(piece)
            yield piece

    def _relay_response(
        self, status: int, reason: str, headers: list[tuple[str, str]], body: BinaryIO
    ) -> None:
        """Send the backend's answer, with its length if known, chunked otherwise."""
        self.send_response(status, reason)
        length = None
        for name, value in headers:
            if name.lower() == "content-length":
                length = value
            elif name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", length)
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        read = getattr(body, "read1", body.read)
        while piece := read(_COPY_CHUNK):
            if length is None:
                self.wfile.write(b"%x\r\n%b\r\n" % (len(piece), piece))  # one send per chunk
            else:
                self.wfile.write(piece)
        if length is None:
            self.wfile.write(b"0\r\n\r\n")


def _read_chunked(rfile: BinaryIO) -> Iterator[bytes]:
    """Decode an HTTP/1.1 chunked body (git sends pushes above http.postBuffer this way)."""
    while True:
        size_line = rfile.readline(1024)
        if not size_line:
            raise ConnectionError("chunked body ended early")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return
        remaining = size
        while remaining > 0:
            piece = rfile.read(min(_COPY_CHUNK, remaining))
            if not piece:
                raise ConnectionError("chunk ended early")
            remaining -= len(piece)
            yield piece
        rfile.readline(1024)  # the CRLF after each chunk


def _read_cgi_headers(stdout: BinaryIO) -> tuple[int, str, list[tuple[str, str]]]:
    """Parse the CGI header block; ``Status:`` carries the HTTP status (200 if absent)."""
    status, reason = 200, "OK"
    headers: list[tuple[str, str]] = []
    while True:
        line = stdout.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        value = value.strip()
        if name.lower() == "status":
            code, _, reason = value.partition(" ")
            status = int(code)
        else:
            headers.append((name, value))
    return status, reason, headers


def make_server(root: Path, port: int = 0, log: BinaryIO | None = None) -> _CgiServer:
    """Bind a server on loopback; call ``serve_forever`` (in a thread or the main thread)."""
    return _CgiServer(("127.0.0.1", port), root, log or sys.stderr.buffer)


def main(argv: list[str] | None = None) -> int:
    """Serve ``--root`` until terminated; print the bound port so a parent can connect."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="directory of bare repos")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    if shutil.which("git") is None:
        parser.error("git is not on PATH")
    server = make_server(args.root.resolve(), args.port)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
