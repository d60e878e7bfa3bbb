"""What people change about a repo after creating it, and their relation to it.

Settings (visibility, description, default branch, collaborators, transfer, delete) need
admin access; a like needs read access and a login. Every action opens its own transaction
and asks `repos.access` through `get_repo`, so the web page and any future API agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from repohub.auth.accounts import ROLES, find_account, orgs_of
from repohub.auth.identity import Identity
from repohub.db.models import Account, Collaborator, Membership, Repo, utcnow
from repohub.db.social import Like
from repohub.errors import InvalidArgument, NotFound, PermissionDenied
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.reading import repo_refs
from repohub.repos.search import reindex_repo
from repohub.repos.service import (
    RepoExists,
    RepoKey,
    _writable_namespace,
    delete_repo,
    find_repo,
    get_repo,
)

MAX_DESCRIPTION = 1000


@dataclass(frozen=True)
class Person:
    name: str
    role: str


@dataclass(frozen=True)
class AdminView:
    """What the settings page shows; built only for someone with admin access."""

    full_name: str
    private: bool
    description: str
    default_branch: str
    branches: list[str]
    collaborators: list[Person]
    network_size: int
    namespaces: list[str]


def _network_size(session: Session, repo: Repo) -> int:
    return session.scalar(
        select(func.count()).select_from(Repo).where(Repo.network_id == repo.network_id)
    )


def admin_view(hub: Hub, identity: Identity, key: RepoKey) -> AdminView:
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.ADMIN)
        branches = sorted(
            n[len("refs/heads/") :] for n in repo_refs(session, repo) if n.startswith("refs/heads/")
        )
        people = session.execute(
            select(Account.name, Collaborator.role)
            .join(Account, Account.id == Collaborator.user_id)
            .where(Collaborator.repo_id == repo.id)
            .order_by(Account.name_lower)
        )
        return AdminView(
            full_name=repo.full_name,
            private=repo.private,
            description=repo.description,
            default_branch=repo.default_branch,
            branches=branches,
            collaborators=[Person(n, r) for n, r in people],
            network_size=_network_size(session, repo),
            namespaces=writable_namespaces(session, identity),
        )


def set_visibility(hub: Hub, identity: Identity, key: RepoKey, *, private: bool) -> None:
    """Make a repo public or private, keeping its fork network of one visibility.

    A fork network shares one object store and a commit id resolves in any repo of it, so
    a public repo beside a private one would serve the private one's commits by id. Until
    forks can be detached into their own network, visibility changes only for a repo that
    has no forks and is no fork.
    """
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.ADMIN)
        if repo.private == private:
            return
        if _network_size(session, repo) > 1:
            raise InvalidArgument(
                "This repository shares its storage with its forks (one fork network), so "
                "its visibility must stay the same as theirs."
            )
        repo.private = private
        repo.updated_at = utcnow()


def set_description(hub: Hub, identity: Identity, key: RepoKey, description: str) -> None:
    description = " ".join(description.split())
    if len(description) > MAX_DESCRIPTION:
        raise InvalidArgument(f"the description must be at most {MAX_DESCRIPTION} characters")
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.ADMIN)
        repo.description = description
        reindex_repo(hub, session, repo)


def set_default_branch(hub: Hub, identity: Identity, key: RepoKey, branch: str) -> None:
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.ADMIN)
        if f"refs/heads/{branch}" not in repo_refs(session, repo):
            raise InvalidArgument(f"there is no branch named {branch!r}")
        repo.default_branch = branch
        reindex_repo(hub, session, repo)


def _user(session: Session, username: str) -> Account:
    user = find_account(session, username.strip())
    if user is None or user.kind != "user":
        raise NotFound(f"no user named {username!r}")
    return user


def add_collaborator(hub: Hub, identity: Identity, key: RepoKey, username: str, role: str) -> None:
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {', '.join(ROLES)}")
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.ADMIN)
        user = _user(session, username)
        if user.id == repo.owner_id:
            raise InvalidArgument(f"{user.name} owns this repository already")
        row = session.scalar(
            select(Collaborator).where(
                Collaborator.repo_id == repo.id, Collaborator.user_id == user.id
            )
        )
        if row is None:
            session.add(Collaborator(repo_id=repo.id, user_id=user.id, role=role))
        else:
            row.role = role


def remove_collaborator(hub: Hub, identity: Identity, key: RepoKey, username: str) -> None:
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.ADMIN)
        user = _user(session, username)
        session.execute(
            delete(Collaborator).where(
                Collaborator.repo_id == repo.id, Collaborator.user_id == user.id
            )
        )


def transfer(hub: Hub, identity: Identity, key: RepoKey, new_owner: str) -> str:
    """Move a repo to a namespace the caller may create repos in; returns its new name.

    The repo keeps its id, network, forks and collaborators; only the owner changes.
    """
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.ADMIN)
        target = _writable_namespace(session, identity, new_owner.strip())
        if target.id == repo.owner_id:
            raise InvalidArgument(f"{repo.full_name} already belongs to {target.name}")
        existing = find_repo(session, RepoKey(repo.repo_type, target.name, repo.name))
        if existing is not None:
            raise RepoExists(existing)
        repo.owner_id = target.id
        repo.owner = target
        repo.updated_at = utcnow()
        session.flush()
        reindex_repo(hub, session, repo)
        return repo.full_name


def delete_confirmed(hub: Hub, identity: Identity, key: RepoKey, confirmation: str) -> None:
    """Delete only when the caller typed the repo's full name: deletion cannot be undone."""
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.ADMIN)
        full_name = repo.full_name
    if confirmation.strip() != full_name:
        raise InvalidArgument(f"type {full_name} to confirm the deletion")
    delete_repo(hub, identity, key)


# --- likes ---------------------------------------------------------------------------------


def has_liked(session: Session, identity: Identity, repo: Repo) -> bool:
    if identity.user_id is None:
        return False
    return (
        session.scalar(
            select(Like.repo_id).where(Like.repo_id == repo.id, Like.user_id == identity.user_id)
        )
        is not None
    )


def toggle_like(hub: Hub, identity: Identity, key: RepoKey) -> bool:
    """Like a repo, or take the like back; returns whether it is liked now.

    `repos.likes` is kept in the same transaction, so listings sort by likes without
    counting rows.
    """
    if identity.user_id is None:
        raise PermissionDenied("Log in to like repositories")
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.READ)
        liked = has_liked(session, identity, repo)
        if liked:
            session.execute(
                delete(Like).where(Like.repo_id == repo.id, Like.user_id == identity.user_id)
            )
        else:
            session.add(Like(repo_id=repo.id, user_id=identity.user_id))
        step = -1 if liked else 1
        session.execute(update(Repo).where(Repo.id == repo.id).values(likes=Repo.likes + step))
    return not liked


def record_download(hub: Hub, repo_id: int) -> None:
    """Count one download of a repo (the repo page's counter, the "most downloaded" sort).

    Meant for `/resolve` after its access check, once per whole-file GET, as the Hub counts;
    one UPDATE with no read, so concurrent downloads never lose a count.
    """
    with hub.sessions.begin() as session:
        session.execute(update(Repo).where(Repo.id == repo_id).values(downloads=Repo.downloads + 1))


# --- people --------------------------------------------------------------------------------


def writable_namespaces(session: Session, identity: Identity) -> list[str]:
    """Where `identity` may create or fork repos: their own name, then their orgs."""
    if identity.user_id is None or not identity.can_write:
        return []
    me = session.get(Account, identity.user_id)
    assert me is not None
    orgs = [
        o.name
        for o in orgs_of(session, me.id)
        if identity.is_admin or _role(session, o.id, me.id) in ("admin", "write")
    ]
    return [me.name, *orgs]


def _role(session: Session, org_id: int, user_id: int) -> str | None:
    return session.scalar(
        select(Membership.role).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )


def org_members(session: Session, org: Account) -> list[Person]:
    rows = session.execute(
        select(Account.name, Membership.role)
        .join(Membership, Membership.user_id == Account.id)
        .where(Membership.org_id == org.id)
        .order_by(Account.name_lower)
    )
    return [Person(n, r) for n, r in rows]
