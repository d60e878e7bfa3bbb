"""Users and organisations share one namespace: an account name is an owner of repos."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from repohub.auth.passwords import check_new_password, hash_password
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
        "xet-cas",
        "xet-transfer",
        "v1",
        "organizations",
        "admin",
    }
)
ROLES = ("read", "write", "admin")
MAX_EMAIL_LENGTH = 320  # the column's width, and RFC 5321's longest address


def validate_account_name(name: str) -> str:
    if not OWNER_RE.fullmatch(name or ""):
        raise InvalidName(
            f"invalid name {name[:50]!r}: use 1-39 letters, digits or '-', "
            "starting with a letter or digit"
        )
    if name.lower() in RESERVED:
        raise InvalidName(f"the name {name!r} is reserved")
    return name


def validate_email(email: str) -> str:
    """Loose on purpose (the address is only shown and matched at login), but never what a
    column cannot hold: PostgreSQL refuses NUL in text, which would surface as a 500."""
    if "@" not in email or len(email) > MAX_EMAIL_LENGTH or "\x00" in email:
        raise InvalidArgument(f"invalid email address {email[:MAX_EMAIL_LENGTH]!r}")
    return email


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
    check_new_password(password)
    validate_email(email)
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
