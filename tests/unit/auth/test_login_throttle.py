"""The web login throttle counts accounts, not what was typed, and a miss costs a hash check."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from repohub.auth import passwords
from repohub.auth.accounts import create_user
from repohub.auth.sessions import Client, SessionConfig, TooManyAttempts, log_in
from repohub.db.engine import Sessions, make_engine, make_session_factory
from repohub.db.migrate import upgrade
from repohub.db.models import Account
from repohub.db.social import LoginAttempt
from repohub.errors import InvalidArgument, RepoHubError, Unauthenticated

PASSWORD = "correct-horse-9"
CONFIG = SessionConfig(secret="s" * 32, failures_per_account=5, failures_per_ip=20)
HERE = Client("192.0.2.1")


class CountingHasher(PasswordHasher):
    """The real hasher, counting its verifications (and able to hold them, for races)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.gate: threading.Event | None = None
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.calls += 1
        if self.gate is not None:
            self.gate.wait(timeout=30)
        return super().verify(hash, password)


@pytest.fixture
def sessions(tmp_path: Path) -> Sessions:
    url = f"sqlite:///{tmp_path / 'repohub.db'}"
    upgrade(url)
    return make_session_factory(make_engine(url))


@pytest.fixture
def dave(sessions: Sessions) -> Account:
    with sessions.begin() as session:
        return create_user(session, "Dave", email="Dave@Example.com", password=PASSWORD)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(passwords, "_hasher", counting)
    return counting


def _try(
    sessions: Sessions,
    login: str,
    password: str,
    client: Client = HERE,
    config: SessionConfig = CONFIG,
) -> str:
    """The outcome's name: "ok", or the error's class name."""
    try:
        log_in(sessions, config, login, password, client)
    except RepoHubError as exc:
        return type(exc).__name__
    return "ok"


def _attempts(sessions: Sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(LoginAttempt)) or 0


def test_wrong_passwords_by_name_lock_the_email_address_too(
    sessions: Sessions, dave: Account
) -> None:
    assert [_try(sessions, "dave", "wrong-pass") for _ in range(5)] == ["Unauthenticated"] * 5
    with pytest.raises(TooManyAttempts, match="this account"):
        log_in(sessions, CONFIG, "dave@example.com", PASSWORD, Client("192.0.2.2"))
    assert _try(sessions, " DAVE@EXAMPLE.COM ", PASSWORD, Client("192.0.2.3")) == (
        "TooManyAttempts"
    )
    assert _try(sessions, "Dave", PASSWORD, Client("192.0.2.4")) == "TooManyAttempts"


def test_failures_by_name_and_by_email_add_up(sessions: Sessions, dave: Account) -> None:
    guesses = ["dave", "dave@example.com", "DAVE", "Dave@example.COM", "dave"]
    assert [_try(sessions, g, "wrong-pass") for g in guesses] == ["Unauthenticated"] * 5
    assert _try(sessions, "dave", PASSWORD, Client("192.0.2.9")) == "TooManyAttempts"


def test_a_success_restarts_the_account_count_for_every_identifier(
    sessions: Sessions, dave: Account
) -> None:
    for guess in ["dave", "dave@example.com", "dave", "dave@example.com"]:
        assert _try(sessions, guess, "wrong-pass") == "Unauthenticated"
    assert _try(sessions, "dave@example.com", PASSWORD) == "ok"
    assert [_try(sessions, "dave", "wrong-pass") for _ in range(4)] == ["Unauthenticated"] * 4
    assert _try(sessions, "dave", PASSWORD) == "ok"


def test_the_account_throttle_lifts_when_the_window_passes(
    sessions: Sessions, dave: Account
) -> None:
    for _ in range(5):
        _try(sessions, "dave@example.com", "wrong-pass", Client("192.0.2.5"))
    assert _try(sessions, "dave", PASSWORD) == "TooManyAttempts"
    with sessions.begin() as session:  # as if the failures were older than the window
        old = timedelta(seconds=CONFIG.window_seconds + 1)
        session.execute(update(LoginAttempt).values(at=LoginAttempt.at - old))
    assert _try(sessions, "dave", PASSWORD) == "ok"


def test_the_address_limit_counts_every_login_tried_from_it(
    sessions: Sessions, dave: Account
) -> None:
    config = replace(CONFIG, failures_per_ip=8)
    sprayer, elsewhere = Client("203.0.113.7"), Client("203.0.113.8")
    tried = [_try(sessions, f"nobody-{i}", "guess-guess", sprayer, config) for i in range(7)]
    tried.append(_try(sessions, "dave@example.com", "guess-guess", sprayer, config))
    assert tried == ["Unauthenticated"] * 8
    with pytest.raises(TooManyAttempts, match="your address"):
        log_in(sessions, config, "dave", PASSWORD, sprayer)
    assert _try(sessions, "nobody-99", "guess-guess", sprayer, config) == "TooManyAttempts"
    assert _try(sessions, "dave", PASSWORD, elsewhere, config) == "ok"


def test_an_unknown_login_throttles_like_a_known_one_but_not_a_later_account(
    sessions: Sessions,
) -> None:
    """So the throttle does not tell which logins exist, and a typo squatter's failures do
    not lock the account that someone creates with that name afterwards."""
    assert [_try(sessions, "erin", "wrong-pass") for _ in range(5)] == ["Unauthenticated"] * 5
    assert _try(sessions, "erin", "wrong-pass", Client("192.0.2.6")) == "TooManyAttempts"
    with sessions.begin() as session:
        create_user(session, "erin", email="erin@example.com", password=PASSWORD)
    assert _try(sessions, "erin", PASSWORD, Client("192.0.2.6")) == "ok"


def test_an_unknown_login_runs_one_password_verification_like_a_known_one(
    sessions: Sessions, dave: Account, hasher: CountingHasher
) -> None:
    assert _try(sessions, "nobody", "wrong-pass") == "Unauthenticated"
    assert hasher.calls == 1
    assert _try(sessions, "nobody@example.com", PASSWORD) == "Unauthenticated"
    assert hasher.calls == 2
    assert _try(sessions, "dave", "wrong-pass") == "Unauthenticated"
    assert hasher.calls == 3
    assert _try(sessions, "dave", PASSWORD) == "ok"
    assert hasher.calls == 4


def test_an_account_without_a_password_costs_a_verification_too(
    sessions: Sessions, dave: Account, hasher: CountingHasher
) -> None:
    with sessions.begin() as session:
        session.execute(update(Account).values(password_hash=None))
    assert _try(sessions, "dave", "") == "Unauthenticated"
    assert _try(sessions, "dave", PASSWORD) == "Unauthenticated"
    assert hasher.calls == 2


def test_a_throttled_login_is_refused_before_any_verification(
    sessions: Sessions, dave: Account, hasher: CountingHasher
) -> None:
    for _ in range(5):
        _try(sessions, "dave", "wrong-pass")
    calls = hasher.calls
    assert _try(sessions, "dave@example.com", PASSWORD) == "TooManyAttempts"
    assert hasher.calls == calls


@pytest.mark.parametrize(
    "login, password",
    [
        ("", PASSWORD),
        ("   ", PASSWORD),
        ("d" * 100_000, PASSWORD),
        ("dave\x00", PASSWORD),
        ("dave", "p" * 100_000),
    ],
    ids=["empty", "blank", "long-login", "nul-login", "long-password"],
)
def test_input_that_names_no_one_is_refused_without_a_check_or_a_count(
    sessions: Sessions, dave: Account, hasher: CountingHasher, login: str, password: str
) -> None:
    with pytest.raises(InvalidArgument):
        log_in(sessions, CONFIG, login, password, HERE)
    assert hasher.calls == 0 and _attempts(sessions) == 0


def test_a_nul_in_the_password_is_only_a_wrong_password(sessions: Sessions, dave: Account) -> None:
    with pytest.raises(Unauthenticated):
        log_in(sessions, CONFIG, "dave", "wrong\x00pass", HERE)


def test_a_burst_of_parallel_guesses_gets_no_more_checks_than_the_limit(
    sessions: Sessions, dave: Account, hasher: CountingHasher
) -> None:
    """Each guess is counted as it is let through, not once its slow hash is done."""
    hasher.gate = threading.Event()
    outcomes: list[str] = []

    def guess(i: int) -> None:
        outcomes.append(_try(sessions, "dave", "wrong-pass", Client(f"198.51.100.{i}")))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while hasher.calls + len(outcomes) < len(threads) and time.monotonic() < deadline:
        time.sleep(0.01)  # until every guess is refused or holding in the hasher
    hasher.gate.set()
    for thread in threads:
        thread.join(timeout=30)
    assert hasher.calls == CONFIG.failures_per_account
    assert sorted(outcomes) == ["TooManyAttempts"] * 7 + ["Unauthenticated"] * 5
