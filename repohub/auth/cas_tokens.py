"""Xet CAS access tokens: short-lived, scoped to one repo's network and one revision.

The Xet client sends the token to RepoHub's CAS routes as a bearer; nothing is stored, the
token says what it allows and is signed with the install's secret, like a transfer URL.
It is not a Hub token: it cannot call the API, and a Hub token is not a CAS token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass

from repohub.errors import Unauthenticated

PREFIX = "xet1"


@dataclass(frozen=True)
class CasGrant:
    """What a token allows: reads (reconstruction, dedup queries) for the repo's network,
    and with `write` also xorb and shard uploads registered to it."""

    repo_id: int
    network_id: int
    write: bool
    revision: str
    expires: int


def _mac(secret: str, payload: bytes) -> str:
    key = hashlib.sha256(b"xet-cas-token\0" + secret.encode()).digest()
    digest = hmac.new(key, payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(secret: str, grant: CasGrant) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(asdict(grant)).encode()).rstrip(b"=")
    return f"{PREFIX}.{payload.decode()}.{_mac(secret, payload)}"


def read(secret: str, token: str, *, now: float | None = None) -> CasGrant:
    """The grant a token carries, or Unauthenticated when it is forged, altered or expired."""
    prefix, _, rest = token.partition(".")
    payload, _, mac = rest.partition(".")
    if (
        prefix != PREFIX
        or not payload
        or not hmac.compare_digest(_mac(secret, payload.encode()), mac)
    ):
        raise Unauthenticated("invalid Xet access token: ask the Hub API for a new one")
    try:
        fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        grant = CasGrant(**fields)
    except (ValueError, TypeError):
        raise Unauthenticated("invalid Xet access token: ask the Hub API for a new one") from None
    if (now if now is not None else time.time()) > grant.expires:
        raise Unauthenticated("this Xet access token has expired: ask the Hub API for a new one")
    return grant
