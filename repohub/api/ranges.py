"""HTTP Range requests (`bytes=A-B`, `bytes=A-`, `bytes=-N`), one range at a time."""

from __future__ import annotations

import re
from dataclasses import dataclass

from repohub.errors import RepoHubError

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(RepoHubError):
    status_code = 416

    def __init__(self, size: int) -> None:
        super().__init__(f"requested range not satisfiable (size {size})")
        self.headers = {"Content-Range": f"bytes */{size}"}


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # exclusive
    size: int
    partial: bool

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end - 1}/{self.size}"


def parse_range(header: str | None, size: int) -> Span:
    """The bytes to send; a missing or unparsable header means all of them, as RFC 9110 says."""
    match = RANGE_RE.match(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return Span(0, size, size, False)
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start = int(first)
        end = min(size, int(last) + 1) if last else size
    if start >= size or start >= end:
        raise RangeNotSatisfiable(size)
    return Span(start, end, size, True)
