"""`/{owner}`: a user's or an organisation's page, with the repos the viewer may see."""

from __future__ import annotations

from fastapi import Depends
from fastapi.responses import Response

from repohub.auth.accounts import get_account, orgs_of
from repohub.repos.service import list_repos
from repohub.repos.settings import org_members
from repohub.web.context import Page, current_page
from repohub.web.routes.common import page_router

router = page_router()
SHOWN = 100


@router.get("/{owner}")
def profile(owner: str, page: Page = Depends(current_page)) -> Response:
    with page.hub.sessions() as session:
        account = get_account(session, owner)
        repos = {
            kind: list_repos(
                session,
                page.identity,
                repo_type=kind,
                author=account.name,
                sort="lastModified",
                limit=SHOWN,
            )
            for kind in ("model", "dataset")
        }
        members = org_members(session, account) if account.kind == "org" else []
        orgs = orgs_of(session, account.id) if account.kind == "user" else []
        return page.render("profile.html", account=account, repos=repos, members=members, orgs=orgs)
