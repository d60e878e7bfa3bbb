"""Password hashing with argon2id (memory-hard, so stolen hashes resist GPU guessing)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from repohub.errors import InvalidArgument

MIN_PASSWORD_LENGTH = 8
# Generous for a passphrase or a password manager, and a bound on what one request can make
# the server hash; a password is never set longer, so a longer one can never be right.
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()
# Checked against when there is no hash to check (no such account, or one without a
# password), so a miss costs one argon2 verification, as a wrong password does, and its
# timing does not tell which accounts exist. Made with the hasher's own parameters.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new_password(password: str) -> str:
    """The rules a password must meet when it is set; returns it unchanged."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidArgument(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    return password


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; always runs one verification, even without a hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
