"""The access rule, and its set form used by listings, must agree on every combination."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from repohub.auth.identity import ANONYMOUS, Identity
from repohub.db.models import Account, Base, Collaborator, Membership, Network, Repo
from repohub.errors import PermissionDenied, RepoNotFound
from repohub.repos.access import (
    Access,
    access_level,
    require,
    viewer_kind,
    visible_clause,
    visible_filter,
)


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s


def _account(s: Session, name: str, kind: str = "user", admin: bool = False) -> Account:
    a = Account(kind=kind, name=name, name_lower=name, is_admin=admin)
    s.add(a)
    s.flush()
    return a


def _repo(s: Session, owner: Account, name: str, private: bool) -> Repo:
    net = Network()
    s.add(net)
    s.flush()
    r = Repo(
        network_id=net.id,
        owner_id=owner.id,
        repo_type="model",
        name=name,
        name_lower=name,
        private=private,
    )
    s.add(r)
    s.flush()
    return r


def _world(s: Session) -> tuple[list[Identity], list[Repo]]:
    owner, member, reader, collab, stranger = (
        _account(s, n) for n in ("owner", "member", "reader", "collab", "stranger")
    )
    admin = _account(s, "root", admin=True)
    org = _account(s, "org", kind="org")
    s.add_all(
        [
            Membership(org_id=org.id, user_id=member.id, role="write"),
            Membership(org_id=org.id, user_id=reader.id, role="read"),
        ]
    )
    repos = [
        _repo(s, owner, "pub", False),
        _repo(s, owner, "priv", True),
        _repo(s, org, "orgpriv", True),
        _repo(s, org, "orgpub", False),
    ]
    s.add(Collaborator(repo_id=repos[1].id, user_id=collab.id, role="write"))
    s.flush()
    identities = [ANONYMOUS] + [
        Identity(a.id, a.name, a.is_admin, scope)
        for a, scope in itertools.product(
            (owner, member, reader, collab, stranger, admin), ("write", "read")
        )
    ]
    return identities, repos


def test_listing_filter_agrees_with_access_level(session: Session) -> None:
    identities, repos = _world(session)
    for identity in identities:
        visible = set(session.scalars(select(Repo.name).where(visible_filter(identity))))
        expected = {r.name for r in repos if access_level(session, identity, r) >= Access.READ}
        assert visible == expected, identity


def test_prepared_clause_agrees_with_access_level(session: Session) -> None:
    """The clause hot statements are built from once, with the viewer as a parameter."""
    identities, repos = _world(session)
    for identity in identities:
        clause = visible_clause(viewer_kind(identity))
        found = session.scalars(select(Repo.name).where(clause), {"viewer_id": identity.user_id})
        expected = {r.name for r in repos if access_level(session, identity, r) >= Access.READ}
        assert set(found) == expected, identity


def test_levels(session: Session) -> None:
    identities, repos = _world(session)
    by_name = {i.name: i for i in identities if i.scope == "write"}
    pub, priv, orgpriv, _orgpub = repos
    assert access_level(session, ANONYMOUS, pub) == Access.READ
    assert access_level(session, ANONYMOUS, priv) == Access.NONE
    assert access_level(session, by_name["owner"], priv) == Access.ADMIN
    assert access_level(session, by_name["collab"], priv) == Access.WRITE
    assert access_level(session, by_name["member"], orgpriv) == Access.WRITE
    assert access_level(session, by_name["reader"], orgpriv) == Access.READ
    assert access_level(session, by_name["stranger"], orgpriv) == Access.NONE
    assert access_level(session, by_name["root"], orgpriv) == Access.ADMIN
    read_owner = next(i for i in identities if i.name == "owner" and i.scope == "read")
    assert access_level(session, read_owner, priv) == Access.READ, "read tokens cap at read"


def test_require_hides_then_forbids(session: Session) -> None:
    identities, repos = _world(session)
    stranger = next(i for i in identities if i.name == "stranger" and i.scope == "write")
    with pytest.raises(RepoNotFound):
        require(session, stranger, repos[1], Access.READ)
    with pytest.raises(PermissionDenied):
        require(session, stranger, repos[0], Access.WRITE)
