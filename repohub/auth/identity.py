"""Who is asking: the identity every access decision is made for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """An authenticated user (with the scope of the credential used) or anonymous.

    `scope` is "read" or "write" for tokens and "session" for a logged-in browser; a read
    scope caps every permission at read, whatever the user could do otherwise.
    """

    user_id: int | None = None
    name: str | None = None
    is_admin: bool = False
    scope: str | None = None
    token_name: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    @property
    def can_write(self) -> bool:
        return self.user_id is not None and self.scope in ("write", "session")


ANONYMOUS = Identity()
