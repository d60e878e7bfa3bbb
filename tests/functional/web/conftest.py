"""Web test fixtures: a cookie-keeping form client, and a real headless Chromium.

Chromium is Debian's (`/usr/bin/chromium`) driven by Playwright's Python package through
`executable_path`: nothing is downloaded by `playwright install`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.stack import Server

SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "S3cret-pass"


class WebClient:
    """A browser without JavaScript: keeps cookies, reads a page's CSRF token, posts forms."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        return self.http.get(path, **kwargs)

    def csrf(self, path: str = "/login") -> str:
        page = self.get(path)
        match = CSRF_RE.search(page.text)
        assert match, f"no CSRF token on {path} ({page.status_code})"
        return match.group(1)

    def post(
        self, path: str, data: dict[str, str], *, token_from: str | None = None, **kwargs
    ) -> httpx.Response:  # type: ignore[no-untyped-def]
        """Post a form with the CSRF token of the page at `token_from` (default `path`'s page
        for GET-able forms, else the home page)."""
        token = self.csrf(token_from or "/")
        return self.http.post(path, data={"csrf": token, **data}, **kwargs)

    def login(self, name: str, password: str = PASSWORD) -> httpx.Response:
        r = self.post("/login", {"login": name, "password": password}, token_from="/login")
        assert r.status_code == 303, r.text
        return r

    def join(self, name: str, password: str = PASSWORD) -> httpx.Response:
        data = {"username": name, "email": f"{name}@example.com", "password": password}
        r = self.post("/join", data, token_from="/join")
        assert r.status_code == 303, r.text
        return r


@pytest.fixture
def web(server: Server) -> Iterator[WebClient]:
    client = WebClient(server.url)
    yield client
    client.close()


@pytest.fixture
def other_web(server: Server) -> Iterator[WebClient]:
    client = WebClient(server.url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
