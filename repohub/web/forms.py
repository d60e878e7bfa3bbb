"""Forms: every POST carries a CSRF token bound to this browser's cookie.

The token is checked before any form field is read by a route, so a page on another site
can make a browser post but can never make the post count.
"""

from __future__ import annotations

from fastapi import Depends, Form, Request

from repohub.auth import sessions
from repohub.errors import PermissionDenied
from repohub.web.context import Page, current_page


class CsrfRejected(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(
            "This form has expired or was sent from another site. Go back, reload the page "
            "and try again."
        )


def _same_origin(request: Request, page: Page) -> bool:
    """A browser's Origin header, when sent, must be this site's (defence in depth)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host or origin.rstrip("/") == page.base_url


def checked_page(
    request: Request, csrf: str = Form(""), page: Page = Depends(current_page)
) -> Page:
    """FastAPI dependency for POST routes: the page, once its CSRF token holds."""
    if not _same_origin(request, page):
        raise CsrfRejected()
    if not sessions.csrf_valid(page.state.sessions.secret, page.binding, csrf):
        raise CsrfRejected()
    return page
