"""Browser logins: server-side sessions, CSRF tokens, throttled password checks.

A session cookie carries a random token and an HMAC of it under the server's secret key;
the database keeps only the token's sha256. The signature lets a node refuse a forged cookie
without a query; the row makes every session revocable at once (log out, password change).
CSRF tokens are HMACs of the cookie they belong to (the session token once logged in, an
anonymous random cookie before), so they need no storage and die with the session.
Throttling counts failed password checks per account (whichever of its name or e-mail
address was typed) and per client address in the database, so it holds across API nodes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from repohub.auth import accounts
from repohub.auth.identity import ANONYMOUS, Identity
from repohub.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    check_new_password,
    hash_password,
    verify_password,
)
from repohub.db.models import Account, utcnow
from repohub.db.social import LoginAttempt, WebSession
from repohub.errors import InvalidArgument, RepoHubError, Unauthenticated

SESSION_COOKIE = "rh_session"
ANON_COOKIE = "rh_anon"
TOUCH_EVERY = timedelta(minutes=5)


class TooManyAttempts(RepoHubError):
    """Too many failed logins for this account or address: wait, then try again."""

    status_code = 429


@dataclass(frozen=True)
class SessionConfig:
    """What sessions need from Settings; built by the web layer (auth does not read config)."""

    secret: str
    ttl_days: int = 30
    window_seconds: int = 900
    failures_per_account: int = 5
    failures_per_ip: int = 50


@dataclass(frozen=True)
class Client:
    """Where a login comes from, recorded with the attempt and the session."""

    ip: str
    user_agent: str = ""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mac(secret: str, purpose: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _sign(secret: str, token: str) -> str:
    return f"{token}.{_mac(secret, 'session', token)}"


def session_token(secret: str, cookie: str | None) -> str | None:
    """The token inside a session cookie whose signature holds, else None."""
    token, _, signature = (cookie or "").rpartition(".")
    if not token or not hmac.compare_digest(signature, _mac(secret, "session", token)):
        return None
    return token


def new_anonymous_binding() -> str:
    """A random value for the anonymous cookie that forms before login are bound to."""
    return secrets.token_urlsafe(24)


def csrf_token(secret: str, binding: str) -> str:
    return _mac(secret, "csrf", binding)


def csrf_valid(secret: str, binding: str | None, given: str | None) -> bool:
    if not binding or not given:
        return False
    return hmac.compare_digest(csrf_token(secret, binding), given)


# --- sessions ------------------------------------------------------------------------------


def _open(session: Session, user: Account, config: SessionConfig, client: Client) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            digest=_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(days=config.ttl_days),
            user_agent=client.user_agent[:200],
            ip=client.ip[:64],
        )
    )
    session.flush()
    return _sign(config.secret, token)


def identity_for_cookie(
    sessions: sessionmaker[Session], config: SessionConfig, cookie: str | None
) -> Identity:
    """The logged-in user of a session cookie; anonymous if it is forged, expired or revoked."""
    token = session_token(config.secret, cookie)
    if token is None:
        return ANONYMOUS
    now = utcnow()
    with sessions() as session:
        row = session.execute(
            select(
                WebSession.id, WebSession.last_seen_at, Account.id, Account.name, Account.is_admin
            )
            .join(Account, Account.id == WebSession.user_id)
            .where(
                WebSession.digest == _digest(token),
                WebSession.revoked_at.is_(None),
                WebSession.expires_at > now,
            )
        ).first()
        if row is None:
            return ANONYMOUS
        session_id, last_seen, user_id, name, is_admin = row
    if now - last_seen > TOUCH_EVERY:
        with sessions.begin() as session:
            session.execute(
                update(WebSession).where(WebSession.id == session_id).values(last_seen_at=now)
            )
    return Identity(user_id, name, is_admin, "session", None)


def end_session(sessions: sessionmaker[Session], config: SessionConfig, cookie: str | None) -> None:
    token = session_token(config.secret, cookie)
    if token is None:
        return
    with sessions.begin() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.digest == _digest(token), WebSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def live_sessions(sessions: sessionmaker[Session], identity: Identity) -> list[WebSession]:
    user_id = _user_id(identity)
    with sessions() as session:
        return list(
            session.scalars(
                select(WebSession)
                .where(
                    WebSession.user_id == user_id,
                    WebSession.revoked_at.is_(None),
                    WebSession.expires_at > utcnow(),
                )
                .order_by(WebSession.last_seen_at.desc())
            )
        )


def revoke_session(sessions: sessionmaker[Session], identity: Identity, session_id: int) -> None:
    """End one of the caller's own sessions (another browser, a lost laptop)."""
    user_id = _user_id(identity)
    with sessions.begin() as session:
        session.execute(
            update(WebSession)
            .where(
                WebSession.id == session_id,
                WebSession.user_id == user_id,
                WebSession.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )


def is_current(config: SessionConfig, cookie: str | None, row: WebSession) -> bool:
    token = session_token(config.secret, cookie)
    return token is not None and _digest(token) == row.digest


# --- logging in ----------------------------------------------------------------------------

# The longest identifier a login can name: an e-mail address (user names are shorter).
MAX_LOGIN_LENGTH = accounts.MAX_EMAIL_LENGTH


def _typed_login(login: str) -> str:
    """The identifier as accounts are matched by: trimmed and lower-cased.

    Input that can name no account is refused here, before the database sees it:
    PostgreSQL refuses NUL in text (a 500, were it sent), and an over-long value is no
    address. Refusing it costs no attempt, as it could never have been right.
    """
    typed = login.strip().lower()
    if not typed:
        raise InvalidArgument("Enter your username or email address")
    if len(typed) > MAX_LOGIN_LENGTH or "\x00" in typed:
        raise InvalidArgument("That is not a username or email address")
    return typed


def _check_login_password(password: str) -> None:
    """No password is ever set longer (see `check_new_password`), so none is hashed here."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidArgument("Incorrect username or password")


def _find_login(session: Session, typed: str) -> Account | None:
    """A user by name or by email address."""
    return session.scalar(
        select(Account)
        .where(
            Account.kind == "user",
            or_(Account.name_lower == typed, func.lower(Account.email) == typed),
        )
        .order_by(Account.id)
        .limit(1)
    )


def _throttle_key(user: Account | None, typed: str) -> str:
    """What an attempt is counted under: the account, whichever identifier named it.

    Counting the account makes the name and the e-mail address share one limit. A login
    that names nobody is counted under what was typed (so it throttles like a real one and
    reveals nothing), with its own prefix, so an account created later with that name or
    address starts with a clean count. The prefixes keep the two kinds of key apart.
    """
    if user is not None:
        return f"account:{user.id}"
    return f"login:{typed}"[:MAX_LOGIN_LENGTH]


def _account_failures(session: Session, config: SessionConfig, key: str) -> int:
    """Failures in the window since the account's last successful login."""
    since = utcnow() - timedelta(seconds=config.window_seconds)
    last_ok = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.login == key, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(True)
        )
    )
    return _failures_since(session, LoginAttempt.login == key, last_ok or since)


def _address_failures(session: Session, config: SessionConfig, ip: str) -> int:
    since = utcnow() - timedelta(seconds=config.window_seconds)
    return _failures_since(session, LoginAttempt.ip == ip, since)


def _failures_since(session: Session, which: ColumnElement[bool], since: datetime) -> int:
    return session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(which, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False))
    )


def _check_throttle(session: Session, config: SessionConfig, key: str, ip: str) -> None:
    """Refuse before checking the password, so a throttled guesser learns nothing.

    An account's count restarts at its owner's successful login; an address's does not,
    so one good password cannot launder a spray of guesses at other accounts.
    """
    minutes = max(1, config.window_seconds // 60)
    if _account_failures(session, config, key) >= config.failures_per_account:
        raise TooManyAttempts(
            f"Too many failed logins for this account: try again in {minutes} minutes"
        )
    if _address_failures(session, config, ip) >= config.failures_per_ip:
        raise TooManyAttempts(
            f"Too many failed logins from your address: try again in {minutes} minutes"
        )


def _claim_attempt(session: Session, config: SessionConfig, key: str, ip: str) -> int:
    """Check the throttle and record the attempt as failed, before the password is checked.

    Recorded first, a burst of parallel guesses cannot all pass the check while the slow
    hashes run: each one counts as soon as it is let through (on SQLite the check and the
    insert share the write lock). A success then marks its own row.
    """
    _check_throttle(session, config, key, ip)
    attempt = LoginAttempt(login=key, ip=ip[:64], succeeded=False)
    session.add(attempt)
    session.flush()
    return attempt.id


def log_in(
    sessions: sessionmaker[Session],
    config: SessionConfig,
    login: str,
    password: str,
    client: Client,
) -> str:
    """Check a password and open a session; returns the cookie value.

    Raises InvalidArgument for input that names no one, TooManyAttempts when the account
    or the address is throttled, Unauthenticated on a wrong name or password (the same
    message and the same one hash check for both, so names cannot be probed).
    """
    typed = _typed_login(login)
    _check_login_password(password)
    with sessions() as session:
        user = _find_login(session, typed)
    with sessions.begin() as session:
        attempt_id = _claim_attempt(session, config, _throttle_key(user, typed), client.ip)
    # The slow hash check runs outside any transaction; the writes open their own, which on
    # SQLite holds the database's one write lock, for the writes only.
    matches = verify_password(user.password_hash if user else None, password)
    if user is None or not matches:
        raise Unauthenticated("Incorrect username or password")
    with sessions.begin() as session:
        session.execute(
            update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(succeeded=True)
        )
        return _open(session, user, config, client)


def sign_up(
    sessions: sessionmaker[Session],
    config: SessionConfig,
    *,
    name: str,
    email: str,
    password: str,
    client: Client,
) -> str:
    """Create a user and log them in; returns the session cookie value."""
    with sessions.begin() as session:
        user = accounts.create_user(session, name, email=email.strip(), password=password)
        return _open(session, user, config, client)


# --- account settings ----------------------------------------------------------------------


def _user_id(identity: Identity) -> int:
    if identity.user_id is None or identity.scope != "session":
        raise Unauthenticated("Log in to manage your account")
    return identity.user_id


def change_password(
    sessions: sessionmaker[Session],
    config: SessionConfig,
    identity: Identity,
    *,
    current: str,
    new: str,
    cookie: str | None,
) -> None:
    """Set a new password and end every other session of the user (a thief's included)."""
    user_id = _user_id(identity)
    check_new_password(new)
    with sessions() as session:
        current_hash = session.scalar(select(Account.password_hash).where(Account.id == user_id))
    if not verify_password(current_hash, current):
        raise InvalidArgument("Your current password is not correct")
    token = session_token(config.secret, cookie)
    keep = _digest(token) if token else ""
    new_hash = hash_password(new)
    with sessions.begin() as session:  # writes only, the hash done: see log_in
        session.execute(update(Account).where(Account.id == user_id).values(password_hash=new_hash))
        session.execute(
            update(WebSession)
            .where(
                WebSession.user_id == user_id,
                WebSession.digest != keep,
                WebSession.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )


def update_profile(
    sessions: sessionmaker[Session], identity: Identity, *, fullname: str, email: str
) -> None:
    user_id = _user_id(identity)
    fullname, email = fullname.strip(), email.strip()
    if len(fullname) > 200 or "\x00" in fullname:
        raise InvalidArgument("full name must be at most 200 characters, without NUL")
    accounts.validate_email(email)
    with sessions.begin() as session:
        session.execute(
            update(Account).where(Account.id == user_id).values(fullname=fullname, email=email)
        )


def my_account(sessions: sessionmaker[Session], identity: Identity) -> Account:
    with sessions() as session:
        user = session.get(Account, _user_id(identity))
        assert user is not None
        return user
