"""Sign up, log in, log out, and the user's own settings: profile, password, tokens."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

from fastapi import Depends, Form
from fastapi.responses import Response

from repohub.auth import service
from repohub.auth import sessions as web_sessions
from repohub.auth.sessions import ANON_COOKIE, SESSION_COOKIE, TooManyAttempts
from repohub.errors import InvalidArgument, RepoHubError, Unauthenticated
from repohub.repos.limits import DbId
from repohub.web.context import Page, client_of, current_page
from repohub.web.forms import checked_page
from repohub.web.routes.common import page_router, require_login, safe_next

router = page_router()
T = TypeVar("T")


def _logged_in(page: Page, cookie: str, target: str) -> Response:
    response = page.redirect(safe_next(target))
    ttl = page.state.sessions.ttl_days * 86400
    page.set_cookie(response, SESSION_COOKIE, cookie, max_age=ttl)
    return response


@router.get("/login")
def login_form(next: str = "/", page: Page = Depends(current_page)) -> Response:
    if page.me:
        return page.redirect(safe_next(next))
    return page.render("login.html", next=safe_next(next), error=None, login="")


@router.post("/login")
def login(
    login: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
    page: Page = Depends(checked_page),
) -> Response:
    try:
        cookie = web_sessions.log_in(
            page.hub.sessions, page.state.sessions, login, password, client_of(page.request)
        )
    except (InvalidArgument, Unauthenticated, TooManyAttempts) as exc:
        return page.render(
            "login.html",
            status=exc.status_code,
            next=safe_next(next),
            error=exc.message,
            login=_shown_login(login),
        )
    return _logged_in(page, cookie, next)


def _shown_login(login: str) -> str:
    """What was typed, for the form to show again; not input that could name no one."""
    return login if len(login) <= web_sessions.MAX_LOGIN_LENGTH and "\x00" not in login else ""


@router.get("/join")
def join_form(page: Page = Depends(current_page)) -> Response:
    return page.render("join.html", error=None, form={})


@router.post("/join")
def join(
    username: str = Form(""),
    email: str = Form(""),
    password: str = Form(""),
    page: Page = Depends(checked_page),
) -> Response:
    try:
        cookie = web_sessions.sign_up(
            page.hub.sessions,
            page.state.sessions,
            name=username.strip(),
            email=email,
            password=password,
            client=client_of(page.request),
        )
    except RepoHubError as exc:
        form = {"username": username, "email": email}
        return page.render("join.html", status=exc.status_code, error=exc.message, form=form)
    return _logged_in(page, cookie, "/")


@router.post("/logout")
def logout(page: Page = Depends(checked_page)) -> Response:
    web_sessions.end_session(
        page.hub.sessions, page.state.sessions, page.request.cookies.get(SESSION_COOKIE)
    )
    response = page.redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(ANON_COOKIE, path="/")
    return response


# --- settings ------------------------------------------------------------------------------


@router.get("/settings")
def settings_home(page: Page = Depends(current_page)) -> Response:
    require_login(page)
    return page.redirect("/settings/profile")


def _submit(
    page: Page,
    view: Callable[..., Response],
    action: Callable[[], T],
    shown: Callable[[T], dict[str, object]] = lambda _: {"saved": True},
) -> Response:
    """A settings form's POST: the action, then its page again, with why at the refusal's
    status when the action was refused, else with what `shown` makes of its result."""
    require_login(page)
    try:
        result = action()
    except RepoHubError as exc:
        return view(page, exc.status_code, error=exc.message)
    return view(page, **shown(result))


def _profile(page: Page, status: int = 200, **context: object) -> Response:
    account = web_sessions.my_account(page.hub.sessions, page.identity)
    context.setdefault("error", None)
    context.setdefault("saved", False)
    return page.render("settings_profile.html", status=status, account=account, **context)


@router.get("/settings/profile")
def profile_form(page: Page = Depends(current_page)) -> Response:
    require_login(page)
    return _profile(page)


@router.post("/settings/profile")
def profile_save(
    fullname: str = Form(""), email: str = Form(""), page: Page = Depends(checked_page)
) -> Response:
    save = partial(
        web_sessions.update_profile,
        page.hub.sessions,
        page.identity,
        fullname=fullname,
        email=email,
    )
    return _submit(page, _profile, save)


def _security(page: Page, status: int = 200, **context: object) -> Response:
    rows = web_sessions.live_sessions(page.hub.sessions, page.identity)
    cookie = page.request.cookies.get(SESSION_COOKIE)
    current = {r.id for r in rows if web_sessions.is_current(page.state.sessions, cookie, r)}
    context.setdefault("error", None)
    context.setdefault("saved", False)
    return page.render(
        "settings_password.html", status=status, sessions=rows, current=current, **context
    )


@router.get("/settings/password")
def password_form(page: Page = Depends(current_page)) -> Response:
    require_login(page)
    return _security(page)


@router.post("/settings/password")
def password_save(
    current: str = Form(""),
    new: str = Form(""),
    page: Page = Depends(checked_page),
) -> Response:
    cookie = page.request.cookies.get(SESSION_COOKIE)
    sessions = (page.hub.sessions, page.state.sessions, page.identity)
    change = partial(
        web_sessions.change_password, *sessions, current=current, new=new, cookie=cookie
    )
    return _submit(page, _security, change)


@router.post("/settings/sessions/{session_id}/revoke")
def session_revoke(session_id: DbId, page: Page = Depends(checked_page)) -> Response:
    require_login(page)
    web_sessions.revoke_session(page.hub.sessions, page.identity, session_id)
    return page.redirect("/settings/password")


def _tokens(page: Page, status: int = 200, **context: object) -> Response:
    tokens = service.my_tokens(page.hub.sessions, page.identity)
    context.setdefault("error", None)
    context.setdefault("issued", None)
    return page.render("settings_tokens.html", status=status, tokens=tokens, **context)


@router.get("/settings/tokens")
def tokens_page(page: Page = Depends(current_page)) -> Response:
    require_login(page)
    return _tokens(page)


@router.post("/settings/tokens")
def token_create(
    name: str = Form(""), scope: str = Form("read"), page: Page = Depends(checked_page)
) -> Response:
    """The plaintext is rendered in this answer only: it is never stored, so it is shown once."""
    issue = partial(
        service.issue_token, page.hub.sessions, page.identity, name=name.strip(), scope=scope
    )
    return _submit(page, _tokens, issue, lambda issued: {"issued": issued})


@router.post("/settings/tokens/{token_id}/revoke")
def token_revoke(token_id: DbId, page: Page = Depends(checked_page)) -> Response:
    require_login(page)
    service.revoke(page.hub.sessions, page.identity, token_id)
    return page.redirect("/settings/tokens")
