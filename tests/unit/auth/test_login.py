"""Token authentication reads only; a token's use is recorded apart, at most once a minute."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from repohub.auth.accounts import create_user
from repohub.auth.login import identity_from_token
from repohub.auth.tokens import create_token, revoke_token
from repohub.db.engine import Sessions, make_engine, make_session_factory
from repohub.db.migrate import upgrade
from repohub.db.models import Account, Token
from repohub.errors import Unauthenticated


@pytest.fixture
def sessions(tmp_path: Path) -> Sessions:
    url = f"sqlite:///{tmp_path / 'repohub.db'}"
    upgrade(url)
    return make_session_factory(make_engine(url))


def _issue(sessions: Sessions) -> tuple[int, str]:
    with sessions.begin() as session:
        user = create_user(session, "ada", password="correct-horse-9", email="ada@example.org")
        issued = create_token(session, user, scope="read")
        return issued.token.id, issued.plaintext


def _last_used(sessions: Sessions, token_id: int):  # type: ignore[no-untyped-def]
    with sessions() as session:
        token = session.get(Token, token_id)
        assert token is not None
        return token.last_used_at


def test_first_use_is_recorded_and_repeats_within_a_minute_are_not(sessions: Sessions) -> None:
    token_id, plaintext = _issue(sessions)
    assert _last_used(sessions, token_id) is None

    identity = identity_from_token(sessions, plaintext)
    assert (identity.name, identity.scope) == ("ada", "read")
    first = _last_used(sessions, token_id)
    assert first is not None

    identity_from_token(sessions, plaintext)
    assert _last_used(sessions, token_id) == first

    with sessions.begin() as session:  # as if the last use were two minutes ago
        token = session.get(Token, token_id)
        assert token is not None
        token.last_used_at = first - timedelta(minutes=2)
    identity_from_token(sessions, plaintext)
    assert _last_used(sessions, token_id) > first - timedelta(minutes=2)


def test_unknown_and_revoked_tokens_are_refused(sessions: Sessions) -> None:
    token_id, plaintext = _issue(sessions)
    with pytest.raises(Unauthenticated):
        identity_from_token(sessions, plaintext + "x")
    with sessions.begin() as session:
        token = session.get(Token, token_id)
        assert token is not None
        user = session.get(Account, token.user_id)
        assert user is not None
        revoke_token(session, user, token_id)
    with pytest.raises(Unauthenticated):
        identity_from_token(sessions, plaintext)
