"""post-receive: start the training and evaluation jobs that `repohub.yaml` asks for.

For every branch the push moved in a model repo, read `repohub.yaml` at the new commit with
plain git; if a spec's `on.push.branches` matches, create its jobs (a train job and, after it,
an eval job). The jobs table is the queue's source of truth: a scheduler in the workers hands
new rows to Celery, so this hook needs the database and nothing else (it also nudges a
scheduler on this machine through a file in the data directory, so it need not wait a poll).

Pushes without a `repohub.yaml` cost one Python start and one `git cat-file` per branch;
repohub and SQLAlchemy are imported only when a spec is there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ZERO = b"0" * 40
SPEC = "repohub.yaml"


def pushed_specs(lines: list[bytes]) -> list[tuple[str, str, bytes]]:
    """(ref, commit, spec bytes) for each branch moved to a commit that has a spec.

    Lines are bytes, as git writes them; a ref name that is not UTF-8 never gets here (the
    server refuses it before any hook), and is skipped rather than guessed at if it does."""
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) != 3 or parts[1] == ZERO or not parts[2].startswith(b"refs/heads/"):
            continue
        try:
            ref, commit = parts[2].decode("utf-8"), parts[1].decode("ascii")
        except UnicodeDecodeError:
            continue
        shown = subprocess.run(
            ["git", "cat-file", "blob", f"{commit}:{SPEC}"], capture_output=True, check=False
        )
        if shown.returncode == 0:
            found.append((ref, commit, shown.stdout))
    return found


def main() -> int:
    if os.environ.get("REPOHUB_REPO_TYPE") != "model":
        return 0
    found = pushed_specs(sys.stdin.buffer.read().splitlines())
    if not found:
        return 0
    from repohub.db.engine import make_engine, make_session_factory
    from repohub.jobs.triggers import Pushed, on_push

    engine = make_engine(os.environ["REPOHUB_DATABASE_URL"])
    try:
        lines = on_push(
            make_session_factory(engine),
            int(os.environ["REPOHUB_REPO_ID"]),
            os.environ.get("REPOHUB_PUSHER") or None,
            [Pushed(ref, commit, text) for ref, commit, text in found],
        )
    finally:
        engine.dispose()
    if any("queued" in line for line in lines):
        from repohub.jobs.wakeup import poke

        poke(Path(os.environ["REPOHUB_DATA_DIR"]))
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
