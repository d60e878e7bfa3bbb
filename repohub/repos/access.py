"""The one access check. Every entry point (git, LFS, resolve, API, listings, web, jobs)
asks `access_level` or `require`, so no surface can disagree about who sees what.

Without read access a private repo does not exist: callers get `RepoNotFound`, exactly as
for a name nobody ever used.
"""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import BindParameter, and_, bindparam, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from repohub.auth.identity import Identity
from repohub.db.models import Collaborator, Membership, Repo
from repohub.errors import PermissionDenied, RepoNotFound

ROLE_LEVEL = {"read": 1, "write": 2, "admin": 3}


class Access(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2
    ADMIN = 3


def access_level(session: Session, identity: Identity, repo: Repo) -> Access:
    level = _granted(session, identity, repo)
    if not repo.private:
        level = max(level, Access.READ)
    if identity.scope == "read":
        level = min(level, Access.READ)
    return level


def _granted(session: Session, identity: Identity, repo: Repo) -> Access:
    if identity.user_id is None:
        return Access.NONE
    if identity.is_admin or repo.owner_id == identity.user_id:
        return Access.ADMIN
    roles = [
        session.scalar(
            select(Membership.role).where(
                Membership.org_id == repo.owner_id, Membership.user_id == identity.user_id
            )
        ),
        session.scalar(
            select(Collaborator.role).where(
                Collaborator.repo_id == repo.id, Collaborator.user_id == identity.user_id
            )
        ),
    ]
    return Access(max((ROLE_LEVEL.get(r or "", 0) for r in roles), default=0))


def require(session: Session, identity: Identity, repo: Repo, needed: Access) -> Access:
    """Raise RepoNotFound when the repo is invisible, PermissionDenied when visible but
    the action needs more than the identity has."""
    level = access_level(session, identity, repo)
    if level < Access.READ:
        raise RepoNotFound(f"Repository {repo.full_name} not found")
    if level < needed:
        action = {Access.WRITE: "write to", Access.ADMIN: "administer"}.get(needed, "read")
        if identity.scope == "read" and _granted(session, identity, repo) >= needed:
            raise PermissionDenied(
                f"This token has read scope and cannot {action} {repo.full_name}: "
                "use a token with write scope"
            )
        raise PermissionDenied(f"You don't have the rights to {action} {repo.full_name}")
    return level


def visible_filter(identity: Identity) -> ColumnElement[bool]:
    """A SQL condition selecting the repos `identity` may read, for listings and search.

    It states the same rules as `access_level` for whole tables at once.
    """
    if identity.user_id is None or identity.is_admin:
        return visible_clause(viewer_kind(identity))
    return _user_filter(identity.user_id)


def viewer_kind(identity: Identity) -> str:
    return "anonymous" if identity.user_id is None else "admin" if identity.is_admin else "user"


def visible_clause(kind: str) -> ColumnElement[bool]:
    """`visible_filter` for a kind of viewer, with the user's id as the `viewer_id` parameter:
    for statements built once and run with `{"viewer_id": identity.user_id}`."""
    if kind == "anonymous":
        return Repo.private.is_(False)
    if kind == "admin":
        return Repo.id.isnot(None)
    return _user_filter(bindparam("viewer_id"))


def _user_filter(uid: int | BindParameter[int]) -> ColumnElement[bool]:
    member_of = select(Membership.org_id).where(Membership.user_id == uid)
    collaborates = select(Collaborator.repo_id).where(Collaborator.user_id == uid)
    return or_(
        Repo.private.is_(False),
        and_(
            Repo.private.is_(True),
            or_(Repo.owner_id == uid, Repo.owner_id.in_(member_of), Repo.id.in_(collaborates)),
        ),
    )
