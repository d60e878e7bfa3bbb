"""The two sides of a compare: `base...head`, each a branch, tag, sha or `fork_owner:branch`.

A `fork_owner:branch` side names a ref of another repo in the same fork network, as on
GitHub. That repo goes through the one access check: a private fork the caller cannot read
answers exactly like a ref that does not exist, so its refs are never revealed. A visible repo
of that owner outside the network is a different history altogether and gets a clear 422.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from repohub.auth.identity import Identity
from repohub.db.models import Account, Repo
from repohub.errors import InvalidArgument, RevisionNotFound, Unprocessable
from repohub.objects.gitstore import NetworkObjectStore
from repohub.repos.access import Access, access_level
from repohub.repos.reading import HEX_RE, peel, repo_refs

MAX_SPEC = 255


class UnrelatedRepo(Unprocessable):
    """The other side lives in a repo with a history of its own: nothing to compare."""


@dataclass(frozen=True)
class Side:
    spec: str
    repo: Repo
    ref: str | None
    sha: str

    def as_json(self) -> dict[str, str | None]:
        return {"spec": self.spec, "repo": self.repo.full_name, "ref": self.ref, "sha": self.sha}

    @property
    def label(self) -> str:
        return f"{self.spec} @ {self.sha[:7]}"


def split_range(text: str) -> tuple[str, str]:
    """`base...head` (or `base..head`) from a URL; both sides are required."""
    for sep in ("...", ".."):
        if sep in text:
            base, head = text.split(sep, 1)
            if base and head:
                return base, head
    raise InvalidArgument(f"compare: {text!r} is not of the form base...head")


def resolve_side(
    session: Session, store: NetworkObjectStore, identity: Identity, repo: Repo, spec: str
) -> Side:
    if not spec or len(spec) > MAX_SPEC or any(c in spec for c in " \t\n\\~^?*["):
        raise RevisionNotFound(f"Invalid rev id: {spec[:100]!r}")
    target = repo
    name = spec
    if ":" in spec:
        owner, name = spec.split(":", 1)
        target = _fork_of(session, identity, repo, owner, spec)
    ref, sha = _resolve(session, store, target, name, spec)
    return Side(spec, target, ref, sha)


def _resolve(
    session: Session, store: NetworkObjectStore, repo: Repo, name: str, spec: str
) -> tuple[str | None, str]:
    refs = repo_refs(session, repo)
    for candidate in (name, f"refs/heads/{name}", f"refs/tags/{name}"):
        if candidate.startswith("refs/") and candidate in refs:
            return candidate, peel(store, refs[candidate].encode()).decode()
    if HEX_RE.fullmatch(name):
        tips = {t for t in refs.values() if t.startswith(name)}
        if len(tips) == 1:
            return None, peel(store, tips.pop().encode()).decode()
        found = _by_prefix(store, name)
        if found is not None:
            return None, peel(store, found).decode()
    raise RevisionNotFound(f"Invalid rev id: {spec}")


def _by_prefix(store: NetworkObjectStore, prefix: str) -> bytes | None:
    if len(prefix) == 40:
        return prefix.encode() if prefix.encode() in store else None
    matches = set()
    for sha in store.iter_prefix(prefix.encode()):
        matches.add(sha)
        if len(matches) > 1:
            raise RevisionNotFound(f"Invalid rev id: {prefix} is ambiguous")
    return matches.pop() if matches else None


def _fork_of(session: Session, identity: Identity, repo: Repo, owner: str, spec: str) -> Repo:
    """The repo `owner` has in `repo`'s fork network, if the caller may read it."""
    candidates = session.scalars(
        select(Repo)
        .join(Account, Repo.owner_id == Account.id)
        .where(
            Account.name_lower == owner.lower(),
            Repo.repo_type == repo.repo_type,
        )
        .order_by(Repo.id)
    ).all()
    visible = [r for r in candidates if access_level(session, identity, r) >= Access.READ]
    in_network = [r for r in visible if r.network_id == repo.network_id]
    if in_network:
        same_name = [r for r in in_network if r.name_lower == repo.name_lower]
        return (same_name or in_network)[0]
    related = [r for r in visible if r.name_lower == repo.name_lower] or visible
    if related:
        raise UnrelatedRepo(
            f"{spec}: {related[0].full_name} is not in the fork network of {repo.full_name}, "
            "so their histories cannot be compared"
        )
    raise RevisionNotFound(f"Invalid rev id: {spec}")
