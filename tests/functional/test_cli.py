"""The `repohub` command as the README shows it, against the stack's state."""

from __future__ import annotations

import os
import subprocess

import httpx

from tests.conftest import unique
from tests.support.stack import Server, Stack, repohub_command


def run(stack: Stack, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*repohub_command(), *args],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_user_token_org_commands(stack: Stack, server: Server, api: httpx.Client) -> None:
    name = unique("cli")
    assert run(stack, "db", "upgrade").stdout.strip() == "database is up to date"
    out = run(
        stack, "user", "create", name, "--email", f"{name}@example.com", "--password", "S3cret-pass"
    )
    assert name in out.stdout
    dup = run(
        stack,
        "user",
        "create",
        name,
        "--email",
        "x@example.com",
        "--password",
        "S3cret-pass",
        check=False,
    )
    assert dup.returncode == 1 and "already taken" in dup.stderr and "Traceback" not in dup.stderr

    token = run(stack, "token", "create", name, "--scope", "write").stdout
    assert token.count("\n") == 1 and token.startswith("rh_"), "the token alone on stdout"
    token = token.strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/whoami-v2", headers=headers).json()["name"] == name

    org = unique("clorg")
    run(stack, "org", "create", org, "--owner", name)
    member = unique("member")
    run(
        stack,
        "user",
        "create",
        member,
        "--email",
        f"{member}@example.com",
        "--password",
        "S3cret-pass",
    )
    run(stack, "org", "add-member", org, member, "--role", "write")
    member_token = run(stack, "token", "create", member, "--scope", "write").stdout.strip()
    r = api.post(
        "/api/repos/create",
        json={"name": "team", "organization": org},
        headers={"Authorization": f"Bearer {member_token}"},
    )
    assert r.status_code == 200, r.text

    listing = run(stack, "token", "list", name).stdout.strip().splitlines()
    assert len(listing) == 1 and "active" in listing[0]
    token_id = listing[0].split("\t")[0]
    run(stack, "token", "revoke", name, token_id)
    assert "revoked" in run(stack, "token", "list", name).stdout
    assert api.get("/api/whoami-v2", headers=headers).status_code == 401

    admin = unique("admin")
    out = run(
        stack,
        "user",
        "create",
        admin,
        "--email",
        f"{admin}@example.com",
        "--password",
        "S3cret-pass",
        "--admin",
    )
    assert "site administrator" in out.stdout
    weak = run(
        stack,
        "user",
        "create",
        unique("weak"),
        "--email",
        "w@example.com",
        "--password",
        "short",
        check=False,
    )
    assert weak.returncode == 1 and "at least 8" in weak.stderr
