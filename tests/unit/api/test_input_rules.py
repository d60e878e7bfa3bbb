"""The input rules hold for every route, not route by route: each integer a route binds is
bounded to 64 bits, each JSON body model refuses NUL, and no error helper (nor any response,
through the guard) puts unescaped user text into a header."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from annotated_types import Ge, Le
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from repohub.api import git_http, lfs
from repohub.api.bodies import BodyModel, InvalidBody, parse
from repohub.api.errors import error_response
from repohub.api.headers import HeaderGuard, header_text, is_header_safe
from repohub.auth.identity import ANONYMOUS
from repohub.errors import InvalidArgument, NotFound, RepoHubError
from repohub.repos.limits import INT64_MAX, INT64_MIN
from tests.support.asgi import run_asgi

HOSTILE = [
    "\x00",
    "a\r\nX-Injected: yes",
    "line\nbreak",
    "tab\there",
    "caf\xe9 \u2603 \U0001f600",
    "\x7f\x1b[31m",
    "x" * 10_000,
    "\udcff",  # a lone surrogate, as surrogateescape leaves undecodable bytes
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    from repohub.app import create_app
    from repohub.config import Settings

    data = tmp_path_factory.mktemp("rules")
    return create_app(Settings(data_dir=str(data), secret_key="k" * 64))


def _routes(app: FastAPI) -> list[APIRoute]:
    found: list[APIRoute] = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if hasattr(route, "original_router"):
                walk(route.original_router.routes)
            elif isinstance(route, APIRoute):
                found.append(route)

    walk(app.router.routes)
    return found


def _bounds(metadata: list[Any]) -> tuple[int | None, int | None]:
    low = high = None
    for item in metadata:
        low = getattr(item, "ge", low) if isinstance(item, Ge) or hasattr(item, "ge") else low
        high = getattr(item, "le", high) if isinstance(item, Le) or hasattr(item, "le") else high
    return low, high


def _int_fields(model: type[BaseModel], prefix: str) -> list[tuple[str, list[Any]]]:
    """(field, constraints) of every int a body model holds, nested models included."""
    found = []
    for name, field in model.model_fields.items():
        where = f"{prefix}.{name}"
        types = typing.get_args(field.annotation) or (field.annotation,)
        if int in types:
            found.append((where, list(field.metadata)))
        for inner in types:
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found += _int_fields(inner, where)
    return found


def test_every_bound_integer_fits_the_database(app: FastAPI) -> None:
    loose = []
    for route in _routes(app):
        dependant = route.dependant
        params = [*dependant.path_params, *dependant.query_params, *dependant.header_params]
        for sub in dependant.dependencies:
            params += [*sub.path_params, *sub.query_params]
        checked = [
            (f"{route.path} {p.name}", list(p.field_info.metadata))
            for p in params
            if p.field_info.annotation is int or int in typing.get_args(p.field_info.annotation)
        ]
        for body in dependant.body_params:
            model = body.field_info.annotation
            for inner in typing.get_args(model) or (model,):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    checked += _int_fields(inner, f"{route.path} body")
        for where, metadata in checked:
            low, high = _bounds(metadata)
            if low is None or high is None or low < INT64_MIN or high > INT64_MAX:
                loose.append(where)
    assert not loose, f"integers without 64-bit bounds: {loose}"


def test_every_json_body_model_refuses_nul(app: FastAPI) -> None:
    plain = []
    for route in _routes(app):
        for body in route.dependant.body_params:
            model = body.field_info.annotation
            for inner in typing.get_args(model) or (model,):
                is_model = isinstance(inner, type) and issubclass(inner, BaseModel)
                if is_model and not issubclass(inner, BodyModel):
                    plain.append(f"{route.path}: {inner.__name__}")
    assert not plain, f"body models outside the parsing layer: {plain}"


def test_body_model_names_the_field_and_never_echoes_input() -> None:
    class Sample(BodyModel):
        name: str
        tags: list[str] = Field(default_factory=list)

    with pytest.raises(InvalidBody) as caught:
        parse(Sample, {"name": "secret\x00value"})
    assert "name" in caught.value.message and "secret" not in caught.value.message
    with pytest.raises(InvalidBody, match="tags"):
        parse(Sample, {"name": "a", "tags": ["ok", "b\x00"]})
    with pytest.raises(InvalidBody, match="name"):
        parse(Sample, {"tags": []})
    with pytest.raises(InvalidBody, match="surrogates"):
        parse(Sample, {"name": "\udcff"})


@pytest.mark.parametrize("text", HOSTILE)
def test_header_text_is_always_a_valid_header_value(text: str) -> None:
    value = header_text(text)
    assert is_header_safe(value.encode("ascii"))
    assert len(value) <= 500
    assert "\r" not in value and "\n" not in value


def _errors_from_every_helper(message: str) -> list[Any]:
    """Each place a surface renders an error, given a hostile message."""
    error = RepoHubError(message)
    error.status_code = 400
    return [
        error_response(400, message, "Code"),
        lfs.lfs_error(422, message),
        lfs._challenge(message),
        lfs._domain_error(InvalidArgument(message), ANONYMOUS),
        lfs._domain_error(NotFound(message), ANONYMOUS),
        git_http._error(error, ANONYMOUS),
    ]


@pytest.mark.parametrize("text", HOSTILE)
def test_no_error_helper_puts_raw_input_in_a_header(text: str) -> None:
    for response in _errors_from_every_helper(f"invalid revision {text!s}"):
        for name, value in response.raw_headers:
            assert is_header_safe(value), (name, value)


def test_the_guard_escapes_a_header_a_route_forgot() -> None:
    async def careless(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"x-echo", b"a\r\nX-Injected: yes"), (b"x-fine", b"plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    sent, error = run_asgi(HeaderGuard(careless), {"type": "http"})
    assert error is None
    headers = dict(sent[0]["headers"])
    assert headers[b"x-fine"] == b"plain"
    assert is_header_safe(headers[b"x-echo"]) and b"X-Injected" in headers[b"x-echo"]
