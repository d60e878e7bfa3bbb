"""What people change about a repo after creating it, and their relation to it.

Settings (visibility, description, default branch, collaborators, transfer, delete) need
admin access; a like needs read access and a login. Every action opens its own transaction
and asks `repos.access` through `get_repo`, so the web page and any future API agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from repohub.auth.accounts import ROLES, find_account, org_role, orgs_of
from repohub.auth.identity import Identity
from repohub.db.models import Account, Collaborator, Membership, Repo, RepoRedirect, utcnow
from repohub.db.social import Like
from repohub.errors import InvalidArgument, NotFound, PermissionDenied
from repohub.repos.access import Access, visible_filter
from repohub.repos.context import Hub
from repohub.repos.names import validate_gated, validate_repo_name
from repohub.repos.reading import repo_refs
from repohub.repos.search import reindex_repo
from repohub.repos.service import (
    READ_SCOPE_REFUSED,
    RepoExists,
    RepoKey,
    claim_name,
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
    gated: str | None
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
            gated=repo.gated,
            description=repo.description,
            default_branch=repo.default_branch,
            branches=branches,
            collaborators=[Person(n, r) for n, r in people],
            network_size=_network_size(session, repo),
            namespaces=writable_namespaces(session, identity),
        )


def set_visibility(hub: Hub, identity: Identity, key: RepoKey, *, private: bool) -> None:
    update_settings(hub, identity, key, private=private)


def _set_private(session: Session, repo: Repo, private: bool) -> None:
    """Make a repo public or private, keeping its fork network of one visibility.

    A fork network shares one object store and a commit id resolves in any repo of it, so
    a public repo beside a private one would serve the private one's commits by id. Until
    forks can be detached into their own network, visibility changes only for a repo that
    has no forks and is no fork.
    """
    if _network_size(session, repo) > 1:
        raise InvalidArgument(
            "This repository shares its storage with its forks (one fork network), so "
            "its visibility must stay the same as theirs."
        )
    repo.private = private
    repo.updated_at = utcnow()


@dataclass(frozen=True)
class RepoSettings:
    private: bool
    gated: str | None


def update_settings(
    hub: Hub,
    identity: Identity,
    key: RepoKey,
    *,
    private: bool | None = None,
    gated: str | bool | None = None,
) -> RepoSettings:
    """Change visibility and/or the gating mode (None: leave as is) in one transaction.

    `gated` (`"auto"`, `"manual"`, or False to ungate) is stored and shown in repo info,
    so the Hub client round-trips it, but not enforced yet: a gated public repo is still
    readable by anyone, as a public repo.
    """
    mode = validate_gated(gated) if gated is not None else None
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.ADMIN)
        if private is not None and repo.private != private:
            _set_private(session, repo, private)
        if gated is not None and repo.gated != mode:
            repo.gated = mode
            repo.updated_at = utcnow()
        return RepoSettings(repo.private, repo.gated)


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
    """Move a repo to another namespace under the same name; returns its new name."""
    with hub.sessions() as session:
        name = get_repo(session, identity, key, Access.ADMIN).name
    return move(hub, identity, key, new_owner.strip(), name)


def move(hub: Hub, identity: Identity, key: RepoKey, new_owner: str, new_name: str) -> str:
    """Rename and/or transfer a repo; returns its new `owner/name`.

    The repo keeps its id, network, refs, forks, likes and collaborators; its old name
    becomes a redirect (`repo_redirects`), so clones, links and scripts that use it keep
    working until a repo is created under that name again.
    """
    validate_repo_name(new_name)
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.ADMIN)
        target = _move_target(session, identity, new_owner)
        if target.id == repo.owner_id and repo.name == new_name:
            raise InvalidArgument(f"{repo.full_name} already has that name")
        existing = find_repo(session, RepoKey(repo.repo_type, target.name, new_name))
        if existing is not None and existing.id != repo.id:
            raise RepoExists(existing)
        old_owner_id, old_name = repo.owner_id, repo.name_lower
        claim_name(session, target.id, repo.repo_type, new_name)
        repo.owner_id, repo.owner = target.id, target
        repo.name, repo.name_lower = new_name, new_name.lower()
        repo.updated_at = utcnow()
        session.flush()
        if (old_owner_id, old_name) != (target.id, repo.name_lower):  # not a change of case
            claim_name(session, old_owner_id, repo.repo_type, old_name)
            session.add(
                RepoRedirect(
                    owner_id=old_owner_id,
                    repo_type=repo.repo_type,
                    name_lower=old_name,
                    repo_id=repo.id,
                )
            )
        reindex_repo(hub, session, repo)
        return repo.full_name


def _move_target(session: Session, identity: Identity, owner_name: str) -> Account:
    """Where a repo may move: to the caller, or to an organisation the caller administers
    (site administrators: anywhere). Moving hands the repo to the namespace's admins, so
    an org's write role, enough to create repos there, is not enough."""
    if not identity.can_write or identity.user_id is None:
        raise PermissionDenied(READ_SCOPE_REFUSED)
    me = session.get(Account, identity.user_id)
    assert me is not None
    if owner_name.lower() == me.name_lower:
        return me
    target = find_account(session, owner_name)
    if target is not None and identity.is_admin:
        return target
    if target is None or target.kind != "org":
        raise NotFound(f"no organisation named {owner_name!r}")
    if org_role(session, target.id, me.id) != "admin":
        raise PermissionDenied(f"Only admins of {target.name} can move repositories into it")
    return target


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
    """Like a repo, or take the like back (the web's button); returns whether it is liked."""
    if identity.user_id is None:
        raise PermissionDenied("Log in to like repositories")
    with hub.sessions() as session:
        liked = has_liked(session, identity, get_repo(session, identity, key, Access.READ))
    set_like(hub, identity, key, liked=not liked)
    return not liked


def set_like(hub: Hub, identity: Identity, key: RepoKey, *, liked: bool) -> int:
    """Like or unlike (idempotent, as the Hub's POST and DELETE `/like`); returns the count.

    `repos.likes` is kept in the same transaction, so listings sort by likes without
    counting rows; a like that is already there (or already gone) changes nothing.
    """
    if identity.user_id is None:
        raise PermissionDenied("Log in to like repositories")
    with hub.sessions.begin() as session:
        repo = get_repo(session, identity, key, Access.READ)
        if has_liked(session, identity, repo) != liked:
            if liked:
                session.add(Like(repo_id=repo.id, user_id=identity.user_id))
            else:
                session.execute(
                    delete(Like).where(Like.repo_id == repo.id, Like.user_id == identity.user_id)
                )
            step = 1 if liked else -1
            session.execute(update(Repo).where(Repo.id == repo.id).values(likes=Repo.likes + step))
        session.flush()
        return session.scalar(select(Repo.likes).where(Repo.id == repo.id)) or 0


@dataclass(frozen=True)
class LikedRepo:
    repo_type: str
    full_name: str
    liked_at: datetime


@dataclass(frozen=True)
class Liker:
    name: str
    fullname: str


def liked_by(
    session: Session, identity: Identity, username: str, *, limit: int, offset: int = 0
) -> list[LikedRepo]:
    """What `username` liked, newest first, among the repos `identity` may see."""
    user = _user(session, username)
    rows = session.execute(
        select(Repo, Like.created_at)
        .join(Like, Like.repo_id == Repo.id)
        .where(Like.user_id == user.id, visible_filter(identity))
        .order_by(Like.created_at.desc(), Repo.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [LikedRepo(r.repo_type, r.full_name, at) for r, at in rows]


def likers(
    session: Session, identity: Identity, key: RepoKey, *, limit: int, offset: int = 0
) -> list[Liker]:
    """Who liked a repo `identity` may read, earliest first."""
    repo = get_repo(session, identity, key, Access.READ)
    rows = session.execute(
        select(Account.name, Account.fullname)
        .join(Like, Like.user_id == Account.id)
        .where(Like.repo_id == repo.id)
        .order_by(Like.created_at, Account.id)
        .offset(offset)
        .limit(limit)
    )
    return [Liker(n, f or n) for n, f in rows]


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
