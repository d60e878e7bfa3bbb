"""Credentials from an Authorization header, for every surface: Bearer or Basic `user:token`.

git and git-lfs send Basic with the token as password (the user part is informational: the
Hub client's credential helper sends `hf_user`); the Hub client sends Bearer.
"""

from __future__ import annotations

import base64
import binascii

from repohub.auth.identity import ANONYMOUS, Identity
from repohub.auth.login import BAD_CREDENTIALS, identity_from_token
from repohub.errors import Unauthenticated
from repohub.repos.context import Hub


def token_from_header(header: str) -> str | None:
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if not scheme:
        return None
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            _user, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed Basic credentials") from None
        if secret:
            return secret
    raise Unauthenticated(BAD_CREDENTIALS)


def identity_from_header(hub: Hub, header: str | None) -> Identity:
    token = token_from_header(header or "")
    if token is None:
        return ANONYMOUS
    return identity_from_token(hub.sessions, token)
