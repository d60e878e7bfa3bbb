"""pre-receive: refuse Git LFS pointers whose object was never uploaded to this repo's network.

git-lfs's pre-push hook uploads objects before git pushes their pointers, so this fires only
for pointers committed without their bytes (git-lfs not installed on a clone, a pointer copied
from another repo). Accepting them would publish files nobody can download; and a network may
read an oid only once it uploaded the bytes, so a pointer copied from someone else's repo
never unlocks their object.

Only blobs under 1024 bytes can be pointers, and only those starting with the pointer's
version line are parsed; SQLAlchemy and repohub's domain (beyond its stdlib-only path rule)
are imported only when a push carries one, so a push without pointers costs one Python start
and two git processes. Paths stay bytes (git promises no encoding) until printed, shown as
the web and the API show them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from typing import IO

from repohub.repos.paths import shown_path

MAX_POINTER_SIZE = 1024
POINTER_START = b"version https://git-lfs.github.com/spec/v1\n"
NEW_SMALL_BLOBS = [
    "git",
    "rev-list",
    "--objects",
    "--filter=object:type=blob",
    f"--filter=blob:limit={MAX_POINTER_SIZE}",
    "--stdin",
]
BATCH = "--batch=%(objectname) %(objecttype) %(objectsize) %(rest)"


def pushed_tips(lines: Iterable[bytes]) -> list[str]:
    """The new value of every update that is not a deletion (lines read as bytes)."""
    tips = {parts[1] for parts in (line.split() for line in lines) if len(parts) == 3}
    return sorted(tip.decode("ascii") for tip in tips if tip.strip(b"0"))


def new_small_blobs(tips: list[str]) -> Iterator[tuple[str, bytes]]:
    """(shown path, bytes) of every blob under 1024 bytes the push adds (not reachable from
    a ref)."""
    rev_list = subprocess.Popen(
        [*NEW_SMALL_BLOBS, "--not", "--all"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    cat_file = subprocess.Popen(
        ["git", "cat-file", BATCH], stdin=rev_list.stdout, stdout=subprocess.PIPE
    )
    assert rev_list.stdin is not None and rev_list.stdout is not None
    assert cat_file.stdout is not None
    rev_list.stdout.close()  # cat-file holds it now; rev-list sees SIGPIPE if cat-file dies
    rev_list.stdin.write("".join(f"{tip}\n" for tip in tips).encode())
    rev_list.stdin.close()
    yield from _read_batch(cat_file.stdout)
    if rev_list.wait() or cat_file.wait():
        raise RuntimeError("git could not list the pushed objects")


def _read_batch(out: IO[bytes]) -> Iterator[tuple[str, bytes]]:
    """Blobs from `cat-file --batch` output; commits (which the filter keeps) are skipped."""
    for header in iter(out.readline, b""):
        _sha, kind, size, path = header.rstrip(b"\n").split(b" ", 3)
        data = out.read(int(size) + 1)[:-1]
        if kind == b"blob":
            yield shown_path(path), data


def pointers(tips: list[str]) -> list[tuple[str, str, int]]:
    """(path, oid, size) of every LFS pointer the push adds."""
    candidates = [(p, d) for p, d in new_small_blobs(tips) if d.startswith(POINTER_START)]
    if not candidates:
        return []
    from repohub.objects.lfs import parse_pointer

    parsed = [(path, parse_pointer(data)) for path, data in candidates]
    return [(path, p.oid, p.size) for path, p in parsed if p is not None]


def granted(network_id: int, oids: list[str]) -> dict[str, int]:
    """oid -> size of the objects this network uploaded, by the domain's own query."""
    from sqlalchemy.orm import Session

    from repohub.db.engine import make_engine
    from repohub.repos.lfs import granted_sizes

    engine = make_engine(os.environ["REPOHUB_DATABASE_URL"])
    try:
        with Session(engine) as session:
            return granted_sizes(session, network_id, oids)
    finally:
        engine.dispose()


def refusal(missing: list[tuple[str, str, int]], sizes: dict[str, int]) -> str:
    lines = ["RepoHub: these Git LFS pointers name objects never uploaded to this repository:"]
    for path, oid, size in missing:
        stored = f"; the uploaded object has {sizes[oid]} bytes" if oid in sizes else ""
        lines.append(f"  {path} (sha256:{oid}, {size} bytes{stored})")
    lines += [
        "hint: upload the objects first, then push again:",
        "hint:   git lfs push --all origin",
    ]
    return "\n".join(lines)


def unuploaded(tips: list[str]) -> tuple[list[tuple[str, str, int]], dict[str, int]]:
    """The pushed pointers this network has no (or another size of) object for, and the
    sizes it does have."""
    found = pointers(tips)
    if not found:
        return [], {}
    sizes = granted(int(os.environ["REPOHUB_NETWORK_ID"]), [oid for _, oid, _ in found])
    return [(path, oid, size) for path, oid, size in found if sizes.get(oid) != size], sizes


def main() -> int:
    tips = pushed_tips(sys.stdin.buffer)
    if not tips:
        return 0
    try:
        missing, sizes = unuploaded(tips)
    except Exception as exc:  # any failure refuses: an unchecked pointer must not slip through
        reason = (str(exc).splitlines() or [""])[0]
        print(
            f"RepoHub: could not check the pushed Git LFS pointers ({type(exc).__name__}) {reason}"
        )
        return 1
    if missing:
        print(refusal(missing, sizes))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
