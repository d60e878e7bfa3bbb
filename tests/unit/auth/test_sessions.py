"""Session cookies and CSRF tokens: signed, bound, and refused when touched."""

from __future__ import annotations

from repohub.auth.sessions import _sign, csrf_token, csrf_valid, session_token

SECRET = "s" * 32


def test_a_session_cookie_holds_only_when_its_signature_does() -> None:
    cookie = _sign(SECRET, "tok")
    assert session_token(SECRET, cookie) == "tok"
    assert session_token("other-secret", cookie) is None
    assert session_token(SECRET, "tok") is None
    assert session_token(SECRET, cookie[:-1] + ("0" if cookie[-1] != "0" else "1")) is None
    assert session_token(SECRET, None) is None


def test_csrf_tokens_are_bound_to_one_browser() -> None:
    token = csrf_token(SECRET, "browser-a")
    assert csrf_valid(SECRET, "browser-a", token)
    assert not csrf_valid(SECRET, "browser-b", token)
    assert not csrf_valid(SECRET, "browser-a", "")
    assert not csrf_valid(SECRET, None, token)
