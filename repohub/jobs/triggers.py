"""Push triggers: after refs moved, the branches whose `repohub.yaml` asks for it get jobs.

Called by the shipped post-receive hook (`hooks/post-receive.d/30-jobs.py`), which runs in its
own process with the database URL and the push's details, reads each new commit's
`repohub.yaml` with plain git, and prints what this returns to the pusher.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from repohub.auth.accounts import find_account
from repohub.db.models import Repo
from repohub.jobs import spec as specs
from repohub.jobs.creation import Request, create_jobs

BRANCH_PREFIX = "refs/heads/"


@dataclass(frozen=True)
class Pushed:
    """A branch a push moved, and its new commit's `repohub.yaml` bytes."""

    ref: str
    commit: str
    spec_text: bytes


def on_push(
    sessions: sessionmaker[Session], repo_id: int, pusher: str | None, pushed: list[Pushed]
) -> list[str]:
    """Create the jobs the pushed specs ask for; return lines for the pusher."""
    lines = []
    with sessions.begin() as session:
        repo = session.get(Repo, repo_id)
        account = find_account(session, pusher) if pusher else None
        if repo is None or repo.repo_type != "model":
            return []
        for push in pushed:
            lines += _trigger(session, repo, account.id if account else None, push)
    return lines


def _trigger(session: Session, repo: Repo, user_id: int | None, push: Pushed) -> list[str]:
    branch = push.ref.removeprefix(BRANCH_PREFIX)
    try:
        spec = specs.load(push.spec_text)
        patterns = specs.push_patterns(spec)
    except specs.InvalidSpec as exc:
        return [f"RepoHub: {branch}: no job started: {exc.message}"]
    if not specs.branch_matches(branch, patterns):
        return []
    request = Request(repo, push.commit, spec, user_id, "push", ref=push.ref)
    lines = []
    for created in create_jobs(session, request):
        job = created.job
        verb = "queued" if created.new else "already has"
        lines.append(
            f"RepoHub: {branch} {push.commit[:12]}: {verb} {job.kind} job {job.id} "
            f"(/api/jobs/{job.id})"
        )
    return lines
