"""Self-authorizing URLs: HMAC-signed, expiring claims in a query string.

LFS transfer URLs must work without credentials (the Hub client sends none to them), so the
URL itself says what it allows (operation, oid, size, network) and until when, signed with
the server's secret: change one character and it is refused, wait too long and it is too.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from repohub.errors import PermissionDenied

SIG = "sig"
EXPIRES = "exp"


def _mac(secret: str, claims: Mapping[str, str]) -> str:
    message = "&".join(f"{k}={claims[k]}" for k in sorted(claims)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, claims: Mapping[str, str | int], *, expires_in: int) -> dict[str, str]:
    """The claims, their expiry and a signature, as query parameters."""
    signed = {k: str(v) for k, v in claims.items()}
    signed[EXPIRES] = str(int(time.time()) + expires_in)
    signed[SIG] = _mac(secret, signed)
    return signed


def verify(secret: str, params: Mapping[str, str], *, now: float | None = None) -> dict[str, str]:
    """The claims of a signed query, or PermissionDenied if forged, altered or expired."""
    claims = {k: v for k, v in params.items() if k != SIG}
    given = params.get(SIG, "")
    if not hmac.compare_digest(_mac(secret, claims), given):
        raise PermissionDenied("invalid signature on this transfer URL")
    try:
        expires = int(claims.get(EXPIRES, "0"))
    except ValueError:
        raise PermissionDenied("invalid expiry on this transfer URL") from None
    if (now if now is not None else time.time()) > expires:
        raise PermissionDenied("this transfer URL has expired: ask the batch API for a new one")
    return claims
