"""The samples head fixes or breaks, as a zip: images from the dataset revision both were
evaluated on, under `fixed/` and `broken/`, with a `samples.csv` of labels and confidences.

Each image is read through the dataset repo's own access check, as `/resolve` would serve
it, so a zip never holds a file its caller could not download one by one.
"""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from repohub.auth.identity import Identity
from repohub.errors import InvalidArgument, RepoHubError, Unprocessable
from repohub.repos import files
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.service import RepoKey, get_repo

SETS = ("fixed", "broken", "all")
MAX_FILES = 1000


def samples_zip(hub: Hub, identity: Identity, found: dict[str, Any], which: str) -> bytes:
    """`found` is the `samples` block of a compare built without a limit."""
    if which not in SETS:
        raise InvalidArgument(f"set: {which!r} is not one of: {', '.join(SETS)}")
    if not found.get("comparable"):
        raise Unprocessable(f"no samples to download: {found.get('reason')}")
    chosen = [
        (name, row)
        for name in ("fixed", "broken")
        if which in (name, "all")
        for row in found.get(name) or []
    ][:MAX_FILES]
    repo_name, sha = str(found["dataset"]).split("@", 1)
    owner, name = repo_name.split("/", 1)
    buffer = io.BytesIO()
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(
        [
            "set",
            "path",
            "true",
            "base_predicted",
            "base_confidence",
            "head_predicted",
            "head_confidence",
        ]
    )
    with hub.sessions() as session, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        repo = get_repo(session, identity, RepoKey("dataset", owner, name), Access.READ)
        for group, row in chosen:
            try:
                entry = files.read_entry(hub, session, repo, sha, row["path"])
                with files.open_bytes(hub, entry) as stream:
                    out.writestr(f"{group}/{row['path']}", stream.read())
            except RepoHubError:
                continue  # gone from storage or not readable: listed in the CSV only
            finally:
                writer.writerow(
                    [
                        group,
                        row["path"],
                        row["true"],
                        row["base"]["predicted"],
                        row["base"]["confidence"],
                        row["head"]["predicted"],
                        row["head"]["confidence"],
                    ]
                )
        out.writestr("samples.csv", table.getvalue())
    return buffer.getvalue()
