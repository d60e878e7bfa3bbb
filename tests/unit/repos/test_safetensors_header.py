"""Summaries from a safetensors header alone."""

from __future__ import annotations

import json
import struct

import pytest

from repohub.repos.safetensors_header import (
    InvalidSafetensors,
    header_length,
    parse_header,
)


def _header(body: dict) -> bytes:
    return json.dumps(body).encode()


def test_parameters_are_counted_from_shapes() -> None:
    summary = parse_header(
        _header(
            {
                "__metadata__": {"format": "pt"},
                "b": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]},
                "a": {"dtype": "F32", "shape": [2, 3, 4], "data_offsets": [6, 102]},
                "scalar": {"dtype": "F32", "shape": [], "data_offsets": [102, 106]},
            }
        )
    )
    assert [t.name for t in summary.tensors] == ["a", "b", "scalar"]
    assert summary.parameters == 24 + 3 + 1 and summary.tensor_count == 3
    assert summary.parameters_by_dtype == {"F32": 25, "F16": 3}
    assert summary.metadata == {"format": "pt"} and not summary.truncated


def test_length_prefix_is_checked_against_the_file() -> None:
    assert header_length(struct.pack("<Q", 100), 200) == 100
    for prefix, size in (
        (struct.pack("<Q", 300), 200),
        (struct.pack("<Q", 2**60), 2**62),
        (b"abc", 9),
    ):
        with pytest.raises(InvalidSafetensors):
            header_length(prefix, size)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        _header({"t": {"dtype": "F32"}}),
        _header({"t": {"dtype": "F32", "shape": [-1]}}),
        _header({"t": {"dtype": "F32", "shape": [True]}}),
        _header({"t": "nope"}),
    ],
)
def test_malformed_headers_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidSafetensors):
        parse_header(raw)
