"""git's path patterns: which paths `.gitattributes` sends to Git LFS, and `.gitignore`.

The Hub client asks the server how each file is to be uploaded (inline or LFS), and a commit
made over the API must leave a tree that a `git clone` smudges the same way: both questions
have one answer, the repo's own `.gitattributes`. Rules as in gitattributes(5): a pattern
without a slash matches the file name at any depth, one with a slash is anchored at the root,
`**` spans directories, and the last line that sets or unsets `filter` wins. `.gitignore`
uses the same patterns, with `!` re-including and a trailing `/` naming a directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Rule:
    pattern: str
    lfs: bool  # `filter=lfs` sets it; `-filter`, `!filter` or another filter unsets it


def parse(text: str) -> tuple[Rule, ...]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, *attrs = line.split()
        for attr in attrs:
            if attr.startswith("filter="):
                rules.append(Rule(pattern, attr == "filter=lfs"))
            elif attr in ("-filter", "!filter"):
                rules.append(Rule(pattern, False))
    return tuple(rules)


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    anchored = "/" in pattern.rstrip("/")
    body = pattern.lstrip("/")
    out = []
    i = 0
    while i < len(body):
        if body.startswith("[[:space:]]", i):  # how git-lfs writes a space
            out.append(r"\s")
            i += len("[[:space:]]")
        elif body[i] == "\\" and i + 1 < len(body):
            out.append(re.escape(body[i + 1]))
            i += 2
        elif body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("/**", i) and i + 3 == len(body):
            out.append("/.*")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        elif body[i] == "[":
            end = body.find("]", i + 1)
            if end == -1:
                out.append(re.escape("["))
                i += 1
            else:
                inner = body[i + 1 : end].replace("\\", "\\\\")
                out.append(f"[^{inner[1:]}]" if inner.startswith("!") else f"[{inner}]")
                i = end + 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(prefix + "".join(out))


def is_lfs(rules: tuple[Rule, ...], path: str) -> bool:
    """Whether git-lfs would store `path` (relative to the repo root) as an LFS object."""
    lfs = False
    for rule in rules:
        if _regex(rule.pattern).fullmatch(path):
            lfs = rule.lfs
    return lfs


def track_line(path: str) -> str:
    """The line the Hub appends for an LFS file no pattern covers (specials escaped, spaces
    as git-lfs writes them), so a clone of an API commit smudges it too."""
    escaped = re.sub(r"([\[\]*?#!\\])", r"\\\1", path).replace(" ", "[[:space:]]")
    return f"{escaped} filter=lfs diff=lfs merge=lfs -text\n"


def ignored(gitignore: str, path: str) -> bool:
    """Whether `path` (a file, relative to the root) is ignored by `gitignore`'s text."""
    verdict = False
    parts = path.split("/")
    for raw in gitignore.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        if pattern.endswith("/"):  # a directory: ignores every file below it
            regex = _regex(pattern.rstrip("/"))
            hit = any(regex.fullmatch("/".join(parts[:i])) for i in range(1, len(parts)))
        else:
            hit = bool(_regex(pattern).fullmatch(path))
        if hit:
            verdict = not negate
    return verdict
