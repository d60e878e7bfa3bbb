"""The one display rule for git's bytes: readable, escaped where not UTF-8, and reversible."""

from __future__ import annotations

import itertools

import pytest

from repohub.repos.paths import canonical_path, commit_text, git_path, shown_path, shown_text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"README.md", "README.md"),
        ("café.txt".encode(), "café.txt"),  # valid UTF-8 is shown as itself
        (b"caf\xe9.txt", "caf\\xe9.txt"),  # Latin-1: the byte, escaped
        (b"\xed\xa0\x80", "\\xed\\xa0\\x80"),  # an encoded surrogate is no UTF-8 either
        (b"a\nb\x1b[1m\x7f", "a\\x0ab\\x1b[1m\\x7f"),  # controls never reach a page or terminal
        (b"caf\\xe9.txt", "caf\\x5cxe9.txt"),  # a literal escape look-alike stays distinct
        (b"win\\dows", "win\\dows"),  # any other backslash is itself
    ],
)
def test_shown_path_and_back(raw: bytes, shown: str) -> None:
    assert shown_path(raw) == shown
    assert git_path(shown) == raw


def test_every_short_name_round_trips_and_no_two_names_look_alike() -> None:
    alphabet = [b"\\", b"x", b"e", b"9", b"5", b"c", b"\xe9", b"\xc3", b"\xa9", b"\n", b"a"]
    seen: dict[str, bytes] = {}
    for size in range(5):
        for parts in itertools.product(alphabet, repeat=size):
            raw = b"".join(parts)
            shown = shown_path(raw)
            assert git_path(shown) == raw
            assert seen.setdefault(shown, raw) == raw, f"{seen[shown]!r} and {raw!r} look alike"
            shown.encode("utf-8")  # real text: JSON, templates and headers take it


def test_requests_are_read_leniently_but_answered_canonically() -> None:
    assert git_path("caf\\xE9.txt") == b"caf\xe9.txt"
    assert canonical_path("caf\\xc3\\xa9") == "café"
    assert git_path("caf\udce9") == "caf\udce9".encode("utf-8", "surrogatepass")  # no error


def test_text_of_unknown_encoding_is_shown_not_replaced() -> None:
    assert shown_text(b"caf\xe9 \\x41\n") == "caf\\xe9 \\x41\n"


@pytest.mark.parametrize(
    ("raw", "encoding", "text"),
    [
        (b"Jos\xe9", b"ISO-8859-1", "José"),  # the commit's header is honoured, as git log does
        (b"Jos\xe9", None, "Jos\\xe9"),
        (b"Jos\xe9", b"no-such-codec", "Jos\\xe9"),
        (b"Jos\xe9", b"UTF-8", "Jos\\xe9"),  # a header that lies falls back
        (b"\\udce9", b"unicode_escape", "\\udce9"),  # a codec that makes surrogates: refused
        (b"x", b"base64", "x"),  # not a text codec
        (b"x", b"\xff", "x"),
    ],
)
def test_commit_text(raw: bytes, encoding: bytes | None, text: str) -> None:
    assert commit_text(raw, encoding) == text
