"""Account actions as callers ask for them, each in its own transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from repohub.auth import accounts, tokens
from repohub.auth.identity import Identity
from repohub.db.models import Account, Token
from repohub.errors import PermissionDenied, Unauthenticated


@dataclass(frozen=True)
class WhoAmI:
    user: Account
    orgs: list[Account]


def _me(session: Session, identity: Identity) -> Account:
    if identity.user_id is None:
        raise Unauthenticated("Authorization header is required")
    user = session.get(Account, identity.user_id)
    if user is None:
        raise Unauthenticated("Invalid credentials in Authorization header")
    return user


def whoami(sessions: sessionmaker[Session], identity: Identity) -> WhoAmI:
    with sessions() as session:
        user = _me(session, identity)
        return WhoAmI(user, accounts.orgs_of(session, user.id))


def _require_writer(identity: Identity) -> None:
    if not identity.can_write:
        raise PermissionDenied("this action needs a write token")


def create_org(sessions: sessionmaker[Session], identity: Identity, name: str) -> Account:
    _require_writer(identity)
    with sessions.begin() as session:
        return accounts.create_org(session, name, owner=_me(session, identity))


def add_member(
    sessions: sessionmaker[Session], identity: Identity, org_name: str, username: str, role: str
) -> None:
    _require_writer(identity)
    with sessions.begin() as session:
        me = _me(session, identity)
        org = accounts.get_account(session, org_name)
        if not me.is_admin and accounts.org_role(session, org.id, me.id) != "admin":
            raise PermissionDenied(f"only admins of {org.name} can manage its members")
        accounts.set_membership(session, org, accounts.get_account(session, username), role)


def issue_token(
    sessions: sessionmaker[Session], identity: Identity, *, name: str, scope: str
) -> tokens.IssuedToken:
    """Only a write credential may mint tokens, so a leaked read token cannot escalate."""
    _require_writer(identity)
    with sessions.begin() as session:
        return tokens.create_token(session, _me(session, identity), scope=scope, name=name)


def my_tokens(sessions: sessionmaker[Session], identity: Identity) -> list[Token]:
    with sessions() as session:
        return tokens.list_tokens(session, _me(session, identity))


def revoke(sessions: sessionmaker[Session], identity: Identity, token_id: int) -> Token:
    _require_writer(identity)
    with sessions.begin() as session:
        return tokens.revoke_token(session, _me(session, identity), token_id)
