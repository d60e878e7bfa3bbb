"""URLs of repo pages, and reading a revision and a path back out of one.

Revisions travel as one URL segment with `/` escaped (`feat%2Fx`), as on the Hub, and
ASGI servers decode `%2F` before routing; so the revision is read from the undecoded
`raw_path`, segment by segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from fastapi import Request

from repohub.errors import InvalidArgument
from repohub.repos.service import RepoKey


def repo_path(repo_type: str, full_name: str) -> str:
    return f"/datasets/{full_name}" if repo_type == "dataset" else f"/{full_name}"


@dataclass(frozen=True)
class RepoUrls:
    """Every link a repo page makes, from one place."""

    base: str  # `/alice/bert` or `/datasets/alice/squad`

    @classmethod
    def of(cls, key: RepoKey) -> RepoUrls:
        return cls(repo_path(key.repo_type, f"{key.owner}/{key.name}"))

    def _at(self, kind: str, rev: str, path: str = "") -> str:
        url = f"{self.base}/{kind}/{quote(rev, safe='')}"
        return f"{url}/{quote(path, safe='/')}" if path else url

    def tree(self, rev: str, path: str = "") -> str:
        return self._at("tree", rev, path)

    def blob(self, rev: str, path: str) -> str:
        return self._at("blob", rev, path)

    def resolve(self, rev: str, path: str) -> str:
        return self._at("resolve", rev, path)

    def raw(self, rev: str, path: str) -> str:
        return self._at("raw", rev, path)

    def commits(self, rev: str) -> str:
        return self._at("commits", rev)

    def commit(self, sha: str) -> str:
        return f"{self.base}/commit/{sha}"

    def action(self, name: str) -> str:
        return f"{self.base}/{name}"


def rev_and_path(request: Request, key: RepoKey, marker: str) -> tuple[str, str]:
    """(revision, path) of `{repo}/{marker}/{rev}/{path...}`; the path may be empty."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    segments = raw.split(b"?", 1)[0].decode("utf-8", "replace").split("/")[1:]
    skip = 3 if key.repo_type == "dataset" else 2
    parts = [unquote(s) for s in segments[skip:]]
    if len(parts) < 2 or parts[0] != marker or not parts[1]:
        raise InvalidArgument(f"expected .../{marker}/{{revision}}/{{path}}")
    path = "/".join(p for p in parts[2:] if p)
    return parts[1], path
