"""pre-receive: refuse pushed blobs above REPOHUB_LARGE_FILE_THRESHOLD that are not in Git LFS.

A large file committed to git stays in the history: every later clone pays for it, and no
repack can drop it. Git LFS keeps such files out of git, with a small pointer in their place.
A pointer is under 1024 bytes, so a blob above the threshold is never one: size decides alone.

Runs as a git pre-receive hook (stdin `old new ref` lines, GIT_DIR a quarantine repository
whose refs are the repo's current refs), so it imports nothing but the standard library and
RepoHub's stdlib-only display rule for git paths. Paths are bytes (git promises no encoding:
`caf\xe9.txt` from a Latin-1 machine is no UTF-8); they become text only to be printed, shown
as the web and the API show them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath

from repohub.repos.paths import shown_path

DEFAULT_THRESHOLD = 10 * 1024**2
NEW_OBJECTS = ["git", "rev-list", "--objects", "--filter=object:type=blob", "--stdin"]
BATCH_CHECK = "--batch-check=%(objectname) %(objecttype) %(objectsize) %(rest)"


def pushed_tips(lines: Iterable[bytes]) -> list[str]:
    """The new value of every update that is not a deletion (read as bytes: a ref name need
    not be UTF-8, though the server refuses such names before hooks run)."""
    tips = {parts[1] for parts in (line.split() for line in lines) if len(parts) == 3}
    return sorted(tip.decode("ascii") for tip in tips if tip.strip(b"0"))


def new_blobs(tips: list[str]) -> Iterator[tuple[bytes, int]]:
    """(path, size) of every blob the push adds: reachable from a tip, from no current ref."""
    rev_list = subprocess.Popen(
        [*NEW_OBJECTS, "--not", "--all"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    cat_file = subprocess.Popen(
        ["git", "cat-file", BATCH_CHECK], stdin=rev_list.stdout, stdout=subprocess.PIPE
    )
    assert rev_list.stdin is not None and rev_list.stdout is not None
    assert cat_file.stdout is not None
    rev_list.stdout.close()  # cat-file holds it now; rev-list sees SIGPIPE if cat-file dies
    rev_list.stdin.write("".join(f"{tip}\n" for tip in tips).encode())
    rev_list.stdin.close()
    for line in cat_file.stdout:
        _sha, kind, size, path = line.rstrip(b"\n").split(b" ", 3)
        if kind == b"blob":
            yield path, int(size)
    if rev_list.wait() or cat_file.wait():
        raise RuntimeError("git could not list the pushed objects")


def lfs_pattern(path: str) -> str:
    """What to `git lfs track`: every file with this extension, or the file itself."""
    suffix = PurePosixPath(path).suffix
    return f"*{suffix}" if suffix else path


def megabytes(size: int) -> str:
    return f"{size / 1024**2:.1f} MB"


def refusal(large: list[tuple[bytes, int]], threshold: int) -> str:
    shown = [(shown_path(path), size) for path, size in large]
    patterns = sorted({lfs_pattern(path) for path, _ in shown})
    return "\n".join(
        [
            f"RepoHub: files above {megabytes(threshold)} must be stored with Git LFS:",
            *(f"  {path} ({megabytes(size)})" for path, size in shown),
            "hint: store them with Git LFS, commit them again, then push:",
            *(f'hint:   git lfs track "{pattern}"' for pattern in patterns),
            "hint:   git add .gitattributes",
            "hint:   git add --renormalize .",
            "hint:   git commit --amend",
            "hint: if an earlier commit added them, rewrite your unpushed commits instead:",
            *(f'hint:   git lfs migrate import --include="{pattern}"' for pattern in patterns),
        ]
    )


def main() -> int:
    threshold = int(os.environ.get("REPOHUB_LARGE_FILE_THRESHOLD") or DEFAULT_THRESHOLD)
    tips = pushed_tips(sys.stdin.buffer)
    if not tips:
        return 0
    try:
        large = [(path, size) for path, size in new_blobs(tips) if size > threshold]
    except (OSError, RuntimeError) as exc:
        print(f"RepoHub: could not check the pushed files' sizes: {exc}")
        return 1
    if large:
        print(refusal(large, threshold))
    return 1 if large else 0


if __name__ == "__main__":
    sys.exit(main())
