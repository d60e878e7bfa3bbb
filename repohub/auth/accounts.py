"""Users and organisations share one namespace: an account name is an owner of repos."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from repohub.auth.passwords import hash_password
from repohub.db.models import Account, Membership
from repohub.errors import Conflict, InvalidArgument, InvalidName, NotFound

OWNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$")
RESERVED = frozenset(
    {
        "api",
        "datasets",
        "models",
        "spaces",
        "docs",
        "login",
        "logout",
        "join",
        "new",
        "settings",
        "static",
        "jobs",
        "lfs-transfer",
        "organizations",
        "admin",
    }
)
ROLES = ("read", "write", "admin")


def validate_account_name(name: str) -> str:
    if not OWNER_RE.fullmatch(name or ""):
        raise InvalidName(
            f"invalid name {name!r}: use 1-39 letters, digits or '-', "
            "starting with a letter or digit"
        )
    if name.lower() in RESERVED:
        raise InvalidName(f"the name {name!r} is reserved")
    return name


def find_account(session: Session, name: str) -> Account | None:
    return session.scalar(select(Account).where(Account.name_lower == name.lower()))


def get_account(session: Session, name: str) -> Account:
    account = find_account(session, name)
    if account is None:
        raise NotFound(f"no user or organisation named {name!r}")
    return account


def create_user(
    session: Session, name: str, *, email: str, password: str, is_admin: bool = False
) -> Account:
    validate_account_name(name)
    if len(password) < 8:
        raise InvalidArgument("password must be at least 8 characters")
    if "@" not in email:
        raise InvalidArgument(f"invalid email address {email!r}")
    return _add_account(
        session,
        Account(
            kind="user",
            name=name,
            name_lower=name.lower(),
            email=email,
            password_hash=hash_password(password),
            is_admin=is_admin,
        ),
    )


def create_org(session: Session, name: str, *, owner: Account) -> Account:
    validate_account_name(name)
    org = _add_account(session, Account(kind="org", name=name, name_lower=name.lower()))
    session.add(Membership(org_id=org.id, user_id=owner.id, role="admin"))
    session.flush()
    return org


def _add_account(session: Session, account: Account) -> Account:
    taken = session.scalar(
        select(func.count()).select_from(Account).where(Account.name_lower == account.name_lower)
    )
    if taken:
        raise Conflict(f"the name {account.name!r} is already taken")
    session.add(account)
    session.flush()
    return account


def set_membership(session: Session, org: Account, user: Account, role: str) -> Membership:
    if org.kind != "org":
        raise InvalidArgument(f"{org.name!r} is not an organisation")
    if user.kind != "user":
        raise InvalidArgument(f"{user.name!r} is not a user")
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {', '.join(ROLES)}")
    membership = session.scalar(
        select(Membership).where(Membership.org_id == org.id, Membership.user_id == user.id)
    )
    if membership is None:
        membership = Membership(org_id=org.id, user_id=user.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def org_role(session: Session, org_id: int, user_id: int) -> str | None:
    return session.scalar(
        select(Membership.role).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )


def orgs_of(session: Session, user_id: int) -> list[Account]:
    return list(
        session.scalars(
            select(Account)
            .join(Membership, Membership.org_id == Account.id)
            .where(Membership.user_id == user_id)
            .order_by(Account.name_lower)
        )
    )
