"""The web's security qualities: CSRF on every form, inert pages, revocable sessions,
throttled logins, escaped user content."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.functional.test_git_transfer import remote
from tests.functional.web.conftest import PASSWORD, WebClient
from tests.support.gitcli import Git
from tests.support.stack import Server

CSRF_MESSAGE = "expired or was sent from another site"


def _tokens(web: WebClient) -> str:
    return web.get("/settings/tokens").text


def test_forms_refuse_a_missing_or_foreign_csrf_token(
    web: WebClient, other_web: WebClient, make_user
) -> None:
    alice = make_user("alice")
    r = web.http.post("/login", data={"login": alice.name, "password": PASSWORD})
    assert r.status_code == 403 and CSRF_MESSAGE in r.text
    assert "rh_session" not in r.cookies

    web.login(alice.name)
    before = _tokens(web)
    no_token = web.http.post("/settings/tokens", data={"name": "stolen", "scope": "write"})
    assert no_token.status_code == 403 and CSRF_MESSAGE in no_token.text
    foreign = other_web.csrf("/login")  # a token minted for another browser
    r = web.http.post(
        "/settings/tokens", data={"csrf": foreign, "name": "stolen", "scope": "write"}
    )
    assert r.status_code == 403
    cross_site = web.http.post(
        "/settings/tokens",
        data={"csrf": web.csrf("/settings/tokens"), "name": "stolen", "scope": "write"},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    assert "stolen" not in _tokens(web) and _tokens(web).count("<tr") == before.count("<tr")

    ok = web.post("/settings/tokens", {"name": "mine", "scope": "read"})
    assert ok.status_code == 200 and "shown only once" in ok.text


def test_logout_needs_csrf_too(web: WebClient, make_user) -> None:
    alice = make_user("alice")
    web.login(alice.name)
    assert web.http.post("/logout").status_code == 403
    assert alice.name in web.get("/").text


def test_pages_are_inert_and_cookies_are_http_only(web: WebClient, make_user) -> None:
    alice = make_user("alice")
    home = web.get("/")
    csp = home.headers["content-security-policy"]
    assert "script-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert home.headers["x-frame-options"] == "DENY"
    assert home.headers["x-content-type-options"] == "nosniff"
    assert "<script" not in home.text
    assert "set-cookie" not in home.headers  # no form on it, so no CSRF binding to set
    form = web.get("/login")
    anon_cookie = form.headers["set-cookie"].lower()
    assert anon_cookie.startswith("rh_anon=")
    assert "httponly" in anon_cookie and "samesite=lax" in anon_cookie

    login = web.login(alice.name)
    cookie = login.headers["set-cookie"].lower()
    assert cookie.startswith("rh_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie


def test_sessions_live_on_the_server_and_end_there(
    server: Server, web: WebClient, make_user
) -> None:
    alice = make_user("alice")
    web.login(alice.name)
    cookie = web.http.cookies["rh_session"]
    assert web.get("/settings/profile").status_code == 200

    forged = WebClient(server.url)
    forged.http.cookies.set("rh_session", cookie[:-2] + ("aa" if cookie[-2:] != "aa" else "bb"))
    assert forged.get("/settings/profile").status_code == 303  # to the login page
    forged.close()

    assert web.post("/logout", {}).status_code == 303
    replay = WebClient(server.url)
    replay.http.cookies.set("rh_session", cookie)
    answer = replay.get("/settings/profile")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    replay.close()


def test_changing_the_password_logs_out_other_sessions(
    web: WebClient, other_web: WebClient, make_user
) -> None:
    alice = make_user("alice")
    web.login(alice.name)
    other_web.login(alice.name)
    listed = web.get("/settings/password").text
    assert listed.count("this browser") == 1 and listed.count("Log out</button>") >= 1

    wrong = web.post("/settings/password", {"current": "nope-nope", "new": "N3w-password"})
    assert wrong.status_code == 400 and "not correct" in wrong.text
    changed = web.post("/settings/password", {"current": PASSWORD, "new": "N3w-password"})
    assert changed.status_code == 200 and "other sessions were logged out" in changed.text
    assert web.get("/settings/password").status_code == 200
    assert other_web.get("/settings/password").status_code == 303
    fresh = WebClient(str(web.http.base_url))
    fresh.login(alice.name, "N3w-password")
    fresh.close()


def _attempt(web: WebClient, login: str, password: str, ip: str | None = None) -> int:
    headers = {"X-Forwarded-For": ip} if ip else {}
    token = web.csrf("/login")
    data = {"csrf": token, "login": login, "password": password}
    return web.http.post("/login", data=data, headers=headers).status_code


def test_login_is_throttled_per_account(web: WebClient, make_user) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    ip = "198.51.100.11"
    assert [_attempt(web, alice.name, "wrong-pass", ip) for _ in range(5)] == [401] * 5
    page = web.http.post(
        "/login",
        data={"csrf": web.csrf("/login"), "login": alice.name, "password": PASSWORD},
        headers={"X-Forwarded-For": ip},
    )
    assert page.status_code == 429 and "Too many failed logins for this account" in page.text
    assert "rh_session" not in page.cookies
    assert _attempt(web, alice.name.upper(), PASSWORD, "198.51.100.12") == 429  # names fold
    assert _attempt(web, bob.name, PASSWORD, ip) == 303  # other accounts are not locked out


def test_login_is_throttled_per_address(web: WebClient, make_user) -> None:
    """A spray of guesses at many names from one address locks the address, not the names."""
    alice = make_user("alice")
    sprayer = "203.0.113.77"
    statuses = {_attempt(web, f"nobody-{i}", "guess-guess", sprayer) for i in range(50)}
    assert statuses == {401}
    assert _attempt(web, alice.name, PASSWORD, sprayer) == 429
    assert _attempt(web, alice.name, PASSWORD, "203.0.113.78") == 303


def test_a_locked_account_stays_locked_through_its_email_address(web: WebClient, make_user) -> None:
    dave = make_user("dave")
    ip = "198.51.100.21"
    assert [_attempt(web, dave.name, "wrong-pass", ip) for _ in range(5)] == [401] * 5
    page = web.http.post(
        "/login",
        data={
            "csrf": web.csrf("/login"),
            "login": f"{dave.name}@example.com",
            "password": PASSWORD,
        },
        headers={"X-Forwarded-For": "198.51.100.22"},
    )
    assert page.status_code == 429 and "Too many failed logins for this account" in page.text
    assert "rh_session" not in page.cookies
    assert _attempt(web, f"{dave.name}@example.com".upper(), PASSWORD, "198.51.100.23") == 429


def test_failures_through_the_name_and_the_email_add_up(web: WebClient, make_user) -> None:
    dave = make_user("dave")
    email = f"{dave.name}@example.com"
    guesses = [dave.name, email, dave.name.upper(), email.upper(), email]
    assert [_attempt(web, g, "wrong-pass", "198.51.100.31") for g in guesses] == [401] * 5
    assert _attempt(web, dave.name, PASSWORD, "198.51.100.32") == 429
    assert _attempt(web, email, PASSWORD, "198.51.100.33") == 429


def test_the_address_limit_counts_names_and_addresses_alike(web: WebClient, make_user) -> None:
    """Guesses at real accounts by e-mail, at real names and at nobody all count for the
    address, while no one account reaches its own limit."""
    users = [make_user("spray") for _ in range(12)]
    sprayer = "203.0.113.91"
    logins = [u.name for u in users] + [f"{u.name}@example.com" for u in users]
    logins += [f"nobody-{i}@example.com" for i in range(50 - len(logins))]
    assert {_attempt(web, login, "guess-guess", sprayer) for login in logins} == {401}
    assert _attempt(web, users[0].name, PASSWORD, sprayer) == 429
    assert _attempt(web, f"{users[0].name}@example.com", PASSWORD, "203.0.113.92") == 303


BAD_LOGIN_FIELDS = {
    "empty": "login=&password=",
    "long-login": "login=" + "d" * 100_000 + "&password=S3cret-pass",
    "long-password": "login=someone&password=" + "p" * 100_000,
    "nul-login": "login=some%00one&password=S3cret-pass",
    "nul-password": "login=someone&password=S3cret%00pass",
    "nul-next": "login=someone&password=S3cret-pass&next=/x%00y",
    "non-utf8-login": "login=%ff%fe%c3&password=S3cret-pass",
    "non-utf8-password": "login=someone&password=%ff%fe%80",
    "raw-latin1": "login=caf\xe9&password=\xff",
}


@pytest.mark.parametrize("fields", BAD_LOGIN_FIELDS.values(), ids=BAD_LOGIN_FIELDS.keys())
def test_bad_login_input_gets_a_4xx_page_not_a_500(web: WebClient, fields: str) -> None:
    body = f"csrf={web.csrf('/login')}&{fields}".encode("latin-1")
    r = web.http.post(
        "/login",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Forwarded-For": "198.51.100.41",
        },
    )
    assert 400 <= r.status_code < 500, r.text[:500]
    assert r.headers["content-type"].startswith("text/html") and "Log in" in r.text
    assert len(r.text) < 50_000  # the over-long value is not echoed back
    assert "rh_session" not in r.cookies


def test_bad_multipart_login_input_gets_a_4xx_page(web: WebClient) -> None:
    files = {
        "csrf": (None, web.csrf("/login").encode()),
        "login": (None, b"\xff\xfe\x00dave"),
        "password": (None, b"\x80" * 100_000),
    }
    r = web.http.post("/login", files=files, headers={"X-Forwarded-For": "198.51.100.42"})
    assert 400 <= r.status_code < 500, r.text[:500]
    assert "Log in" in r.text


def test_user_content_is_escaped(
    server: Server, web: WebClient, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    alice = make_user("alice")
    repo = make_repo(alice)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    src = git.init_repo(
        tmp_path / "src",
        {"evil.py": f"# {evil}\n", "notes.md": f"hello {evil}\n[x](javascript:alert(1))\n"},
        message=f"title {evil}",
    )
    git("push", remote(server, repo, alice), "main", cwd=src)

    blob = web.get(f"/{repo}/blob/main/evil.py")
    assert blob.status_code == 200 and "&lt;script&gt;" in blob.text
    assert not _live_html(blob.text)
    notes = web.get(f"/{repo}/blob/main/notes.md").text
    assert not _live_html(notes) and 'href="javascript' not in notes.lower()
    commits = web.get(f"/{repo}/commits/main").text
    assert "&lt;script&gt;" in commits and not _live_html(commits)


def _live_html(page: str) -> list[str]:
    """Markup that would run: a script element or an event-handler attribute on a tag."""
    return re.findall(r"<script\b|<[a-z][^>]*\son[a-z]+\s*=", page, flags=re.IGNORECASE)


def test_raw_files_are_never_pages(
    server: Server, api: httpx.Client, make_user, make_repo, git: Git, tmp_path: Path
) -> None:
    """Links from pages to `/raw` and `/resolve` serve bytes that a browser cannot run."""
    alice = make_user("alice")
    repo = make_repo(alice)
    src = git.init_repo(tmp_path / "src", {"page.html": "<script>alert(1)</script>"})
    git("push", remote(server, repo, alice), "main", cwd=src)
    r = api.get(f"/{repo}/raw/main/page.html")
    assert not r.headers["content-type"].startswith("text/html")
    assert "sandbox" in r.headers["content-security-policy"]
