"""Every operation of the OpenAPI schema, fuzzed by schemathesis against a live server.

Three rounds per operation: data that fits the schema with generated names (anonymous), data
that breaks it (wrong types, missing fields, out-of-range numbers; authenticated), and data
that fits it aimed at a real repo (authenticated), which reaches past the repo lookup. The
one property: no answer is a 5xx and no connection drops (requests raises on a dropped one),
and the server is healthy afterwards. Schema-conformance checks are left to other tests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from tests.functional.fuzz.conftest import BOUNDED, Target, assert_healthy
from tests.support.stack import Server


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx: Any, value: Any) -> dict[str, bytes]:
    """The Hub's commit call takes NDJSON, which the schema declares as a string."""
    text = value if isinstance(value, str | bytes) else json.dumps(value)
    return {"data": text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text}


def _operations(server: Server) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50, "the schema lost operations"
    return operations


def _fuzz(operation: Any, server: Server, mode: GenerationMode, **fixed: Any) -> None:
    headers = fixed.pop("headers", None)
    strategy = operation.as_strategy(generation_mode=mode, **fixed)

    @BOUNDED
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=server.url, headers=headers, timeout=60)
        assert response.status_code < 500, (
            f"{response.status_code} for {case.as_curl_command()}:\n{response.text[:500]}"
        )

    try:
        run()
    except Unsatisfiable:
        if mode is not GenerationMode.NEGATIVE:
            raise  # an operation with no input to break has no negative cases; fine


def _repo_params(operation: Any, target: Target) -> dict[str, str]:
    names = {p.name for p in operation.path_parameters}
    values = {"owner": target.owner, "name": target.name, "org": target.owner}
    return {name: value for name, value in values.items() if name in names}


@pytest.mark.slow
def test_no_operation_answers_5xx_or_drops_the_connection(server: Server, target: Target) -> None:
    auth = target.user.auth
    for operation in _operations(server):
        _fuzz(operation, server, GenerationMode.POSITIVE)
        _fuzz(operation, server, GenerationMode.NEGATIVE, headers=auth)
        params = _repo_params(operation, target)
        if params:
            _fuzz(operation, server, GenerationMode.POSITIVE, headers=auth, path_parameters=params)
    assert_healthy(server)
