"""Turn credentials into an `Identity`.

git sends HTTP Basic `user:token`; the user part is informational (the Hub client's credential
helper sends `hf_user`), so only the token counts. Passwords are for the web login only, as
on GitHub: a leaked password cannot push.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from repohub.auth.identity import Identity
from repohub.auth.tokens import authenticate_token
from repohub.errors import Unauthenticated

BAD_CREDENTIALS = "Invalid credentials in Authorization header"


def identity_from_token(session: Session, plaintext: str) -> Identity:
    found = authenticate_token(session, plaintext)
    if found is None:
        raise Unauthenticated(BAD_CREDENTIALS)
    user, token = found
    return Identity(user.id, user.name, user.is_admin, token.scope, token.name)
