"""The one request-parsing layer: typed JSON bodies and bounded numbers for every route.

Routes declare what they take as pydantic models built on `BodyModel` and numbers as
`DbInt` / `DbId`; FastAPI validates what it binds itself, and handlers that read a body by
hand (the Hub's paths-info form, the Git LFS API, whose errors have their own shape) call
`json_body`.
Either way a wrong type, a missing field, an out-of-range number or a NUL byte becomes one
`InvalidBody` naming the field, never an exception from deeper down: numbers beyond 64 bits
would overflow the database driver, and PostgreSQL refuses NUL in text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError, field_validator

from repohub.errors import Unprocessable
from repohub.repos.limits import DbId, DbInt

M = TypeVar("M", bound=BaseModel)
__all__ = ["BodyModel", "DbId", "DbInt", "InvalidBody", "json_body", "parse"]


class InvalidBody(Unprocessable):
    """A request that does not have the shape the route takes; the message names each field."""

    def __init__(self, problems: Iterable[str]) -> None:
        super().__init__("invalid request: " + "; ".join(problems))


def describe(errors: Iterable[Mapping[str, Any]]) -> list[str]:
    """pydantic's errors as `field: what is wrong` (the input itself is never echoed)."""
    problems = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        message = str(err.get("msg"))
        problems.append(f"{where}: {message}" if where else message)
    return problems


def _bad_text(text: str) -> bool:
    """NUL, or a lone surrogate (JSON's `\\udcff`), which no UTF-8 answer could carry back."""
    return "\x00" in text or (not text.isascii() and not _encodes(text))


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def has_bad_text(value: object) -> bool:
    if isinstance(value, str):
        return _bad_text(value)
    if isinstance(value, Mapping):
        return any(has_bad_text(k) or has_bad_text(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_bad_text(v) for v in value)
    return False


class BodyModel(BaseModel):
    """Base of every JSON body model: no string anywhere in it may hold a NUL byte or a lone
    surrogate (the one would fail in PostgreSQL, the other when an answer echoes it)."""

    @field_validator("*", mode="after")
    @classmethod
    def _text_is_text(cls, value: Any) -> Any:
        if has_bad_text(value):
            raise ValueError("must be text without NUL bytes or unpaired surrogates")
        return value


def parse(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidBody(describe(exc.errors(include_input=False))) from None


def decode_json(raw: bytes) -> object:
    """The body as JSON; an empty body reads as `{}`, as the Git LFS clients expect."""
    try:
        return json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        where = f" ({exc})" if isinstance(exc, json.JSONDecodeError) else ""
        raise InvalidBody([f"the request body is not valid JSON{where}"]) from None


async def json_body(request: Request, model: type[M]) -> M:
    return parse(model, decode_json(await request.body()))
