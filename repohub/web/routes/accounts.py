"""Sign up, log in, log out, and the user's own settings: profile, password, tokens."""

from __future__ import annotations

from fastapi import Depends, Form
from fastapi.responses import Response

from repohub.auth import service
from repohub.auth import sessions as web_sessions
from repohub.auth.sessions import ANON_COOKIE, SESSION_COOKIE, TooManyAttempts
from repohub.errors import RepoHubError, Unauthenticated
from repohub.web.context import Page, client_of, current_page
from repohub.web.forms import checked_page
from repohub.web.routes.common import page_router, require_login, safe_next

router = page_router()


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
    except (Unauthenticated, TooManyAttempts) as exc:
        status = 429 if isinstance(exc, TooManyAttempts) else 401
        return page.render(
            "login.html", status=status, next=safe_next(next), error=exc.message, login=login
        )
    return _logged_in(page, cookie, next)


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
    require_login(page)
    try:
        web_sessions.update_profile(
            page.hub.sessions, page.identity, fullname=fullname, email=email
        )
    except RepoHubError as exc:
        return _profile(page, exc.status_code, error=exc.message)
    return _profile(page, saved=True)


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
    require_login(page)
    try:
        web_sessions.change_password(
            page.hub.sessions,
            page.state.sessions,
            page.identity,
            current=current,
            new=new,
            cookie=page.request.cookies.get(SESSION_COOKIE),
        )
    except RepoHubError as exc:
        return _security(page, exc.status_code, error=exc.message)
    return _security(page, saved=True)


@router.post("/settings/sessions/{session_id}/revoke")
def session_revoke(session_id: int, page: Page = Depends(checked_page)) -> Response:
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
    require_login(page)
    try:
        issued = service.issue_token(
            page.hub.sessions, page.identity, name=name.strip(), scope=scope
        )
    except RepoHubError as exc:
        return _tokens(page, exc.status_code, error=exc.message)
    return _tokens(page, issued=issued)


@router.post("/settings/tokens/{token_id}/revoke")
def token_revoke(token_id: int, page: Page = Depends(checked_page)) -> Response:
    require_login(page)
    service.revoke(page.hub.sessions, page.identity, token_id)
    return page.redirect("/settings/tokens")
