"""Line diffs of two text blobs, shared by the commit page and the compare view.

Lines are plain dicts (kind " ", "+", "-" or "@"; old and new line numbers; text) so the API
can answer them as they are and one template renders both pages.
"""

from __future__ import annotations

import difflib
from typing import Any

CONTEXT = 3


def hunks(old: list[str], new: list[str], budget: int) -> tuple[list[dict[str, Any]], bool]:
    """Unified-diff lines with old and new line numbers; stops after `budget` lines."""
    lines: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for group in matcher.get_grouped_opcodes(CONTEXT):
        first, last = group[0], group[-1]
        header = f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@"
        lines.append({"kind": "@", "old": None, "new": None, "text": header})
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [
                    {"kind": " ", "old": i1 + k + 1, "new": j1 + k + 1, "text": old[i1 + k]}
                    for k in range(i2 - i1)
                ]
                continue
            lines += [
                {"kind": "-", "old": k + 1, "new": None, "text": old[k]} for k in range(i1, i2)
            ]
            lines += [
                {"kind": "+", "old": None, "new": k + 1, "text": new[k]} for k in range(j1, j2)
            ]
        if len(lines) > budget:
            return lines[:budget], True
    return lines, False


def text_lines(data: bytes) -> list[str] | None:
    """The blob's lines, or None when it is binary (a NUL early on, or not UTF-8)."""
    if b"\0" in data[:8000]:
        return None
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None
