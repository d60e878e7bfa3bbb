"""Every route the app has (API, pages, git, LFS), with hostile text in each URL parameter.

Path parameters get NUL, CR, LF, CR LF header injections, bytes that are not UTF-8, `..`,
numbers past 64 bits and negative ones, or the real repo's names so the request gets past the
lookup. The property: an answer below 500, and every header value free of control bytes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
from fastapi.routing import APIRoute
from hypothesis import given, settings
from hypothesis import strategies as st

from repohub.api.headers import is_header_safe
from tests.functional.fuzz.conftest import BOUNDED, Target, assert_healthy
from tests.support.stack import Server

PARAM = re.compile(r"\{(\w+)(?::path)?\}")
HOSTILE = [b"\x00", b"\r", b"\n", b"x\r\nX-Injected: yes", b"\xff\xfe", b"caf\xe9", b"..", b"%"]
NUMBERS = [b"1" + b"0" * 29, b"-1", b"-" + b"9" * 25, b"0", b"9223372036854775808"]


def _routes(tmp_path: Path) -> list[tuple[str, str]]:
    """(method, path template) of every route, walking included routers."""
    from repohub.app import create_app
    from repohub.config import Settings

    app = create_app(Settings(data_dir=str(tmp_path / "routes"), secret_key="k" * 64))
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if hasattr(route, "original_router"):
                walk(route.original_router.routes)
            elif isinstance(route, APIRoute):
                found.update((m, route.path) for m in route.methods - {"HEAD"})

    walk(app.router.routes)
    assert len(found) > 80, "the route walk lost routes"
    return sorted(found)


def _segment(target: Target, name: str) -> st.SearchStrategy[bytes]:
    real = {"owner": target.owner, "name": target.name, "org": target.owner}.get(name)
    choices = [
        st.sampled_from(HOSTILE),
        st.sampled_from(NUMBERS),
        st.binary(min_size=1, max_size=12),
    ]
    if real:
        choices += [st.just(real.encode())] * 3
    return st.one_of(choices)


def _fill(template: str, values: dict[str, bytes]) -> str:
    return PARAM.sub(lambda m: quote_from_bytes(values[m.group(1)], safe=""), template)


def _fuzz_route(api: httpx.Client, target: Target, method: str, template: str) -> None:
    names = PARAM.findall(template)
    values = st.fixed_dictionaries({n: _segment(target, n) for n in names})

    @settings(BOUNDED, max_examples=max(4, BOUNDED.max_examples // 3))
    @given(values=values, authenticated=st.booleans())
    def run(values: dict[str, bytes], authenticated: bool) -> None:
        url = _fill(template, values)
        r = api.request(method, url, headers=target.user.auth if authenticated else {})
        assert r.status_code < 500, (method, url, r.status_code, r.text[:300])
        unsafe = [(k, v) for k, v in r.headers.raw if not is_header_safe(v)]
        assert not unsafe and "x-injected" not in r.headers, (url, unsafe)

    run()


@pytest.mark.slow
def test_every_route_answers_hostile_urls_with_a_4xx_and_safe_headers(
    server: Server, target: Target, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as api:
        for method, template in _routes(tmp_path):
            if PARAM.search(template):
                _fuzz_route(api, target, method, template)
    assert_healthy(server)
