"""Personal access tokens: random, shown once, stored as a sha256 digest, revocable.

A token carries 256 random bits, so a fast hash is enough to make the stored digest useless
to a thief; a slow KDF would only slow every git request down.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from repohub.db.models import Account, Token, utcnow
from repohub.errors import InvalidArgument, NotFound

PREFIX = "rh_"
SCOPES = ("read", "write")
USE_RECORD_SECONDS = 60


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: Token
    plaintext: str


def create_token(session: Session, user: Account, *, scope: str, name: str = "") -> IssuedToken:
    if scope not in SCOPES:
        raise InvalidArgument(f"scope must be one of {', '.join(SCOPES)}")
    if user.kind != "user":
        raise InvalidArgument("tokens belong to users, not organisations")
    plaintext = PREFIX + secrets.token_urlsafe(32)
    token = Token(
        user_id=user.id,
        name=name or f"token-{secrets.token_hex(3)}",
        digest=_digest(plaintext),
        scope=scope,
    )
    session.add(token)
    session.flush()
    return IssuedToken(token, plaintext)


def authenticate_token(session: Session, plaintext: str) -> tuple[Account, Token] | None:
    """The live token and its user, or None for unknown or revoked tokens. Only reads: every
    authenticated request passes here, and a write would make each one a writer."""
    token = session.scalar(select(Token).where(Token.digest == _digest(plaintext)))
    if token is None or token.revoked_at is not None:
        return None
    user = session.get(Account, token.user_id)
    if user is None:
        return None
    return user, token


def use_is_stale(token: Token) -> bool:
    """Whether the token's last use is worth recording: at most once a minute per token."""
    last = token.last_used_at
    return last is None or (utcnow() - last).total_seconds() > USE_RECORD_SECONDS


def record_use(session: Session, token_id: int) -> None:
    now = utcnow()
    session.execute(
        update(Token)
        .where(Token.id == token_id)
        .where(
            or_(
                Token.last_used_at.is_(None),
                Token.last_used_at < now - timedelta(seconds=USE_RECORD_SECONDS),
            )
        )
        .values(last_used_at=now)
    )


def list_tokens(session: Session, user: Account) -> list[Token]:
    return list(session.scalars(select(Token).where(Token.user_id == user.id).order_by(Token.id)))


def revoke_token(session: Session, user: Account, token_id: int) -> Token:
    token = session.scalar(select(Token).where(Token.id == token_id, Token.user_id == user.id))
    if token is None:
        raise NotFound(f"no token {token_id} for {user.name}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token
