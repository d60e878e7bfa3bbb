"""The `repohub` command: serve, database, users, tokens, organisations.

Entry points are the only places that read the environment: `Settings()` here, then passed down.
"""

from __future__ import annotations

import sys

import click

from repohub.config import Settings
from repohub.errors import RepoHubError


def _settings() -> Settings:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _hub():  # type: ignore[no-untyped-def]
    from repohub.db.migrate import upgrade
    from repohub.repos.context import Hub

    settings = _settings()
    upgrade(settings.resolved_database_url)
    return Hub.build(settings)


@click.group()
def main() -> None:
    """RepoHub: a self-hosted hub for machine-learning models."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="web server processes (default: REPOHUB_WEB_WORKERS, else 1)",
)
def serve(host: str, port: int, workers: int | None) -> None:
    """Migrate the database and serve the API, git and web pages (and, unless
    REPOHUB_SERVE_WORKER=false, run a job worker beside them).

    With several web processes, uvicorn starts each one fresh and each builds its own app
    (database engine, pack cache handles) from the environment through `app_from_env`; the
    migration, the development secret key and the job worker happen once, here, first."""
    import uvicorn

    from repohub.api.runtime import settle_heap
    from repohub.app import create_app
    from repohub.db.migrate import upgrade
    from repohub.worker import embedded_worker

    settings = _settings()
    workers = workers or settings.web_workers
    upgrade(settings.resolved_database_url)
    settings.resolved_secret_key()
    options = {"host": host, "port": port, "log_level": "info", "timeout_keep_alive": 30}
    app = create_app(settings) if workers == 1 else None
    if app is not None:
        settle_heap()
    with embedded_worker(settings):
        if app is not None:
            uvicorn.run(app, **options)
        else:
            uvicorn.run("repohub.app:app_from_env", factory=True, workers=workers, **options)


@main.command()
@click.option("--queues", default=None, help="comma-separated: cpu, gpu (default: settings)")
@click.option("--concurrency", default=None, type=int, help="jobs run at once")
@click.option("--name", default=None, help="node name (default: repohub-PID@HOST)")
@click.option("--parent", default=None, type=int, hidden=True, help="exit when this pid exits")
def worker(
    queues: str | None, concurrency: int | None, name: str | None, parent: int | None
) -> None:
    """Run a job worker: Celery, plus the scheduler that dispatches and reaps jobs."""
    from repohub.db.migrate import upgrade
    from repohub.worker import die_with_parent, run_worker

    if parent is not None:
        die_with_parent(parent)
    settings = _settings()
    upgrade(settings.resolved_database_url)
    run_worker(settings, queues=queues, concurrency=concurrency, name=name)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from repohub.db.migrate import upgrade

    upgrade(_settings().resolved_database_url)
    click.echo("database is up to date")


@main.group()
def user() -> None:
    """Users."""


@user.command("create")
@click.argument("name")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--admin", is_flag=True, help="make the user a site administrator")
def user_create(name: str, email: str, password: str, admin: bool) -> None:
    from repohub.auth.accounts import create_user

    hub = _hub()
    with _Errors(), hub.sessions.begin() as session:
        account = create_user(session, name, email=email, password=password, is_admin=admin)
        click.echo(f"created user {account.name}" + (" (site administrator)" if admin else ""))


@main.group()
def token() -> None:
    """Personal access tokens."""


@token.command("create")
@click.argument("username")
@click.option("--scope", type=click.Choice(["read", "write"]), default="read", show_default=True)
@click.option("--name", default="", help="a label to recognise the token by")
def token_create(username: str, scope: str, name: str) -> None:
    """Print a new token alone on stdout (it is never shown again)."""
    from repohub.auth.accounts import get_account
    from repohub.auth.tokens import create_token

    hub = _hub()
    with _Errors(), hub.sessions.begin() as session:
        issued = create_token(session, get_account(session, username), scope=scope, name=name)
        click.echo(issued.plaintext)


@token.command("list")
@click.argument("username")
def token_list(username: str) -> None:
    from repohub.auth.accounts import get_account
    from repohub.auth.tokens import list_tokens

    hub = _hub()
    with _Errors(), hub.sessions() as session:
        for t in list_tokens(session, get_account(session, username)):
            state = "revoked" if t.revoked_at else "active"
            used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
            click.echo(f"{t.id}\t{t.name}\t{t.scope}\t{state}\tlast used {used}")


@token.command("revoke")
@click.argument("username")
@click.argument("token_id", type=int)
def token_revoke(username: str, token_id: int) -> None:
    from repohub.auth.accounts import get_account
    from repohub.auth.tokens import revoke_token

    hub = _hub()
    with _Errors(), hub.sessions.begin() as session:
        revoke_token(session, get_account(session, username), token_id)
        click.echo(f"revoked token {token_id}")


@main.group()
def org() -> None:
    """Organisations."""


@org.command("create")
@click.argument("name")
@click.option("--owner", required=True, help="the user who becomes its first admin")
def org_create(name: str, owner: str) -> None:
    from repohub.auth.accounts import create_org, get_account

    hub = _hub()
    with _Errors(), hub.sessions.begin() as session:
        create_org(session, name, owner=get_account(session, owner))
        click.echo(f"created organisation {name}")


@org.command("add-member")
@click.argument("org_name")
@click.argument("username")
@click.option("--role", type=click.Choice(["read", "write", "admin"]), default="read")
def org_add_member(org_name: str, username: str, role: str) -> None:
    from repohub.auth.accounts import get_account, set_membership

    hub = _hub()
    with _Errors(), hub.sessions.begin() as session:
        set_membership(
            session, get_account(session, org_name), get_account(session, username), role
        )
        click.echo(f"{username} is now {role} in {org_name}")


@main.command()
@click.argument("repo", metavar="OWNER/NAME")
@click.argument("revisions", metavar="BASE...HEAD")
@click.option("--evaluate", is_flag=True, help="start an A/B evaluation of the two versions")
@click.option("--dataset", default=None, help="A/B: dataset repo owner/name[@revision]")
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON")
@click.option("--dataset-repo", "is_dataset", is_flag=True, help="OWNER/NAME is a dataset repo")
@click.option("--url", envvar="REPOHUB_URL", default="http://127.0.0.1:8000", show_default=True)
@click.option("--token", envvar="REPOHUB_TOKEN", default=None, help="or REPOHUB_TOKEN")
def compare(
    repo: str,
    revisions: str,
    evaluate: bool,
    dataset: str | None,
    as_json: bool,
    is_dataset: bool,
    url: str,
    token: str | None,
) -> None:
    """Compare two versions (branches, tags, commits, FORK_OWNER:BRANCH) through the API."""
    import json

    from repohub.compare import remote

    with _Errors():
        if evaluate:
            started = remote.evaluate(url, token, repo, revisions, dataset)
            if as_json:
                click.echo(json.dumps(started, indent=2))
            else:
                state = "started" if started["new"] else "already exists"
                click.echo(f"A/B job {started['job_id']} {state} on {started['dataset']}")
            return
        data = remote.fetch(url, token, "dataset" if is_dataset else "model", repo, revisions)
        click.echo(json.dumps(data, indent=2) if as_json else "\n".join(remote.summary(data)))


class _Errors:
    """Domain errors end the command with their message and exit status 1, not a traceback."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:  # type: ignore[no-untyped-def]
        if isinstance(exc, RepoHubError):
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)
        return False


if __name__ == "__main__":
    main()
