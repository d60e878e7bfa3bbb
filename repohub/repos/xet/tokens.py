"""Xet tokens handed out by the Hub API: the one access check decides, the token remembers.

A read token needs read access to the repo, a write token write access; both are scoped to
the repo's fork network (what a CAS call may read or register) and name the revision asked
for. Pull-request uploads (`create_pr`) have no branch to write to until pull requests
exist, so they are refused with a message that says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from repohub.auth import cas_tokens
from repohub.auth.identity import Identity
from repohub.errors import Unprocessable
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.service import RepoKey, get_repo


class PullRequestsUnsupported(Unprocessable):
    def __init__(self) -> None:
        super().__init__(
            "pull requests are not supported by this RepoHub: upload to a branch "
            "(create_pr=False, or create_branch first and pass revision=)"
        )


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires: int


def issue(
    hub: Hub, identity: Identity, key: RepoKey, *, write: bool, revision: str, create_pr: bool
) -> IssuedToken:
    if create_pr or (write and revision == "None"):
        raise PullRequestsUnsupported()
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, Access.WRITE if write else Access.READ)
        grant = cas_tokens.CasGrant(
            repo_id=repo.id,
            network_id=repo.network_id,
            write=write,
            revision=revision,
            expires=int(time.time()) + hub.settings.xet_token_ttl,
        )
    return IssuedToken(cas_tokens.issue(hub.settings.resolved_secret_key(), grant), grant.expires)
