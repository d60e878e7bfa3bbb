"""Turn credentials into an `Identity`.

git sends HTTP Basic `user:token`; the user part is informational (the Hub client's credential
helper sends `hf_user`), so only the token counts. Passwords are for the web login only, as
on GitHub: a leaked password cannot push.
"""

from __future__ import annotations

from repohub.auth.identity import Identity
from repohub.auth.tokens import authenticate_token, record_use, use_is_stale
from repohub.db.engine import Sessions
from repohub.errors import Unauthenticated

BAD_CREDENTIALS = "Invalid credentials in Authorization header"


def identity_from_token(sessions: Sessions, plaintext: str) -> Identity:
    """Reads in one transaction; records the token's use in a second, and only when stale."""
    with sessions() as session:
        found = authenticate_token(session, plaintext)
        if found is None:
            raise Unauthenticated(BAD_CREDENTIALS)
        user, token = found
        identity = Identity(user.id, user.name, user.is_admin, token.scope, token.name)
        stale = use_is_stale(token)
    if stale:
        with sessions.begin() as session:
            record_use(session, token.id)
    return identity
