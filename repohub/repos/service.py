"""Create, look up, list, fork and delete repos. Transactions are opened here, not above."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session, contains_eager

from repohub.auth.accounts import find_account, org_role
from repohub.auth.identity import Identity
from repohub.db.models import Account, Network, Ref, Repo, RepoRedirect
from repohub.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, RepoNotFound
from repohub.repos.access import Access, require, visible_filter
from repohub.repos.context import Hub
from repohub.repos.initial import make_initial_commit
from repohub.repos.names import validate_repo_name, validate_repo_type

READ_SCOPE_REFUSED = (
    "This token can only read: create a token with write scope (Settings > Access tokens) "
    "and use it for this action"
)


class RepoExists(Conflict):
    """Carries names, not the row: the row dies with the rolled-back transaction."""

    def __init__(self, repo: Repo) -> None:
        super().__init__(f"You already created this {repo.repo_type} repo: {repo.full_name}")
        self.repo_type = repo.repo_type
        self.full_name = repo.full_name


@dataclass(frozen=True)
class RepoKey:
    """How a URL names a repo: type, owner, name (not yet validated)."""

    repo_type: str
    owner: str
    name: str


# Built once: a statement object memoizes its cache key, so a request only binds values
# (building and keying this select cost more CPU than running it).
_FIND_REPO = (
    select(Repo)
    .join(Repo.owner)
    .options(contains_eager(Repo.owner))
    .where(
        Account.name_lower == bindparam("owner"),
        Repo.repo_type == bindparam("repo_type"),
        Repo.name_lower == bindparam("name"),
    )
)


# A name no repo has may be the old name of a moved one (asked only on a miss).
_FIND_MOVED = (
    select(Repo)
    .join(RepoRedirect, RepoRedirect.repo_id == Repo.id)
    .join(Account, Account.id == RepoRedirect.owner_id)
    .where(
        Account.name_lower == bindparam("owner"),
        RepoRedirect.repo_type == bindparam("repo_type"),
        RepoRedirect.name_lower == bindparam("name"),
    )
)


def _params(key: RepoKey) -> dict[str, str]:
    return {"owner": key.owner.lower(), "repo_type": key.repo_type, "name": key.name.lower()}


def find_repo(session: Session, key: RepoKey) -> Repo | None:
    """The repo that has this name now, and its owner, in one query (old names not followed:
    creating and moving ask this, since a redirect never blocks a name)."""
    return session.scalar(_FIND_REPO, _params(key))


def find_moved(session: Session, key: RepoKey) -> Repo | None:
    """The repo that had this name before it was moved, if one did."""
    return session.scalar(_FIND_MOVED, _params(key))


def get_repo(
    session: Session, identity: Identity, key: RepoKey, needed: Access, *, follow: bool = True
) -> Repo:
    """The repo named by `key` if `identity` may act on it: the entry point of every surface.

    An old name of a moved repo means the repo (`follow`), so every surface (git, LFS,
    `/resolve`, API, web) keeps working at it, as on the Hub; only a delete asks without
    following, so deleting a name never deletes a repo that now has another one.
    """
    repo = find_repo(session, key)
    if repo is None and follow:
        repo = find_moved(session, key)
    missing = RepoNotFound(f"Repository {key.owner}/{key.name} not found")
    if repo is None:
        raise missing
    try:
        require(session, identity, repo, needed)
    except RepoNotFound:
        raise missing from None  # the name asked for: an old name never tells the new one
    return repo


def is_old_name(repo: Repo, key: RepoKey) -> bool:
    """Whether `key` reached `repo` through a redirect (names compare case-insensitively)."""
    return (repo.owner.name_lower, repo.name_lower) != (key.owner.lower(), key.name.lower())


def claim_name(session: Session, owner_id: int, repo_type: str, name: str) -> None:
    """A repo now has this name: any redirect from it ends (the new repo takes it back)."""
    session.execute(
        delete(RepoRedirect).where(
            RepoRedirect.owner_id == owner_id,
            RepoRedirect.repo_type == repo_type,
            RepoRedirect.name_lower == name.lower(),
        )
    )


def _writable_namespace(session: Session, identity: Identity, owner_name: str | None) -> Account:
    if identity.user_id is None:
        raise PermissionDenied("You must be logged in to create a repository")
    if not identity.can_write:
        raise PermissionDenied(READ_SCOPE_REFUSED)
    user = session.get(Account, identity.user_id)
    assert user is not None
    if not owner_name or owner_name.lower() == user.name_lower:
        return user
    owner = find_account(session, owner_name)
    if owner is None or owner.kind != "org":
        raise NotFound(f"no organisation named {owner_name!r}")
    if not identity.is_admin and org_role(session, owner.id, user.id) not in ("admin", "write"):
        raise PermissionDenied(f"You can't create repositories in {owner.name}")
    return owner


def create_repo(
    hub: Hub,
    identity: Identity,
    *,
    name: str,
    owner: str | None = None,
    repo_type: str | None = None,
    private: bool = False,
    empty: bool = False,
) -> Repo:
    validate_repo_name(name)
    repo_type = validate_repo_type(repo_type)
    with hub.sessions.begin() as session:
        account = _writable_namespace(session, identity, owner)
        existing = find_repo(session, RepoKey(repo_type, account.name, name))
        if existing is not None:
            raise RepoExists(existing)
        network = Network()
        session.add(network)
        session.flush()
        repo = Repo(
            network_id=network.id,
            owner_id=account.id,
            repo_type=repo_type,
            name=name,
            name_lower=name.lower(),
            private=private,
        )
        repo.owner = account
        session.add(repo)
        session.flush()
        claim_name(session, account.id, repo_type, name)
        if not empty:
            creator = session.get(Account, identity.user_id)
            assert creator is not None
            sha = make_initial_commit(
                hub.stores.get(network.id),
                full_name=repo.full_name,
                repo_type=repo_type,
                author=creator.name,
                email=creator.email or f"{creator.name}@users.noreply",
            )
            session.add(Ref(repo_id=repo.id, name="refs/heads/main", target=sha.decode()))
    return repo


def fork_repo(
    hub: Hub, identity: Identity, parent_key: RepoKey, *, owner: str | None, name: str | None
) -> Repo:
    """A new repo row in the parent's network with a copy of its ref rows: O(refs), not O(bytes)."""
    with hub.sessions.begin() as session:
        parent = get_repo(session, identity, parent_key, Access.READ)
        account = _writable_namespace(session, identity, owner)
        new_name = validate_repo_name(name or parent.name)
        existing = find_repo(session, RepoKey(parent.repo_type, account.name, new_name))
        if existing is not None:
            raise RepoExists(existing)
        fork = Repo(
            network_id=parent.network_id,
            owner_id=account.id,
            repo_type=parent.repo_type,
            name=new_name,
            name_lower=new_name.lower(),
            private=parent.private,
            description=parent.description,
            default_branch=parent.default_branch,
            forked_from_id=parent.id,
        )
        fork.owner = account
        session.add(fork)
        session.flush()
        claim_name(session, account.id, fork.repo_type, new_name)
        refs = session.execute(select(Ref.name, Ref.target).where(Ref.repo_id == parent.id))
        session.add_all(Ref(repo_id=fork.id, name=n, target=t) for n, t in refs)
    return fork


def delete_repo(hub: Hub, identity: Identity, key: RepoKey) -> None:
    """Delete a repo; its network's objects go when the last repo of the network goes."""
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.ADMIN, follow=False)
        network_id = repo.network_id
        session.execute(delete(Ref).where(Ref.repo_id == repo.id))
        session.delete(repo)
        session.flush()
        remaining = session.scalar(
            select(func.count()).select_from(Repo).where(Repo.network_id == network_id)
        )
    if not remaining:
        hub.stores.drop(network_id)


SORTS = {
    "lastModified": Repo.updated_at.desc(),
    "createdAt": Repo.created_at.desc(),
    "downloads": Repo.downloads.desc(),
    "likes": Repo.likes.desc(),
    "trendingScore": Repo.likes.desc(),
    "id": Repo.id.asc(),
}


def list_repos(
    session: Session,
    identity: Identity,
    *,
    repo_type: str,
    search: str | None = None,
    author: str | None = None,
    sort: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Repo]:
    """Repos visible to `identity`, filtered and sorted, one page at `offset`."""
    if sort not in (None, *SORTS):
        raise InvalidArgument(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    query = (
        select(Repo)
        .join(Account, Repo.owner_id == Account.id)
        .where(Repo.repo_type == repo_type, visible_filter(identity))
    )
    if author:
        query = query.where(Account.name_lower == author.lower())
    if search:
        needle = f"%{search.lower()}%"
        query = query.where(func.lower(Account.name + "/" + Repo.name).like(needle))
    order = SORTS[sort] if sort else Repo.id.asc()
    return list(session.scalars(query.order_by(order, Repo.id.asc()).offset(offset).limit(limit)))


def list_forks(session: Session, identity: Identity, parent: Repo) -> list[Repo]:
    return list(
        session.scalars(
            select(Repo)
            .where(Repo.forked_from_id == parent.id, visible_filter(identity))
            .order_by(Repo.id)
        )
    )
