"""What the database can hold: 64-bit integers. Anything beyond is the caller's error.

SQLite raises `OverflowError` and PostgreSQL a driver error for a number past 64 bits, so every
number that comes from a user is checked against these bounds before a query sees it: routes
declare theirs as `DbInt` / `DbId`, and text that holds a number goes through `parse_int`.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

from repohub.errors import InvalidArgument

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
DbInt = Annotated[int, Ge(INT64_MIN), Le(INT64_MAX)]
DbId = Annotated[int, Ge(0), Le(INT64_MAX)]


def parse_int(text: str, what: str, *, minimum: int = INT64_MIN) -> int:
    """`text` as an integer the database can hold, or an `InvalidArgument` naming `what`."""
    try:
        value = int(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what}: expected an integer") from None
    if not minimum <= value <= INT64_MAX:
        raise InvalidArgument(f"invalid {what}: expected an integer from {minimum} to {INT64_MAX}")
    return value
