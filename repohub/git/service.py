"""Run one git service request for one identity on one repo.

The access decision is the domain's (`repos.service.get_repo`); this module turns a
permitted request into a dulwich handler over RepoHub's stores and refs.
"""

from __future__ import annotations

from dataclasses import dataclass

from dulwich.protocol import Protocol
from dulwich.server import Backend

from repohub.auth.identity import Identity
from repohub.git import upload_v2
from repohub.git.hooks import HookPush, HookRunner, PushHooks, repo_path
from repohub.git.policy import RepoRules
from repohub.git.receive import HubReceivePackHandler
from repohub.git.repo import HubRepo
from repohub.git.updates import PushContext
from repohub.git.upload import HubUploadPackHandler
from repohub.objects.gitstore import NetworkObjectStore
from repohub.refs.sqlrefs import RefUpdate, SqlRefsContainer, apply_ref_updates
from repohub.repos.access import Access
from repohub.repos.context import Hub
from repohub.repos.service import RepoKey, get_repo

SERVICES = {"git-upload-pack": Access.READ, "git-receive-pack": Access.WRITE}


@dataclass(frozen=True)
class GitTarget:
    """A repo a request may use, captured so no database session stays open while streaming."""

    repo_id: int
    network_id: int
    rules: RepoRules
    full_name: str = ""
    repo_type: str = "model"


def authorize(hub: Hub, identity: Identity, key: RepoKey, service: str) -> GitTarget:
    """Raise the domain's errors (RepoNotFound / PermissionDenied) or name the repo to serve."""
    with hub.sessions() as session:
        repo = get_repo(session, identity, key, SERVICES[service])
        return GitTarget(
            repo.id,
            repo.network_id,
            RepoRules(repo.default_branch, repo.protect_default_branch),
            repo.full_name,
            repo.repo_type,
        )


class _SingleRepoBackend(Backend):
    def __init__(self, repo: HubRepo) -> None:
        self.repo = repo

    def open_repository(self, path: str) -> HubRepo:  # type: ignore[override]
        return self.repo


def run(
    hub: Hub,
    identity: Identity,
    target: GitTarget,
    service: str,
    proto: Protocol,
    *,
    advertise: bool,
    protocol_v2: bool = False,
) -> None:
    store = hub.stores.get(target.network_id)
    refs = SqlRefsContainer(hub.sessions, target.repo_id, user_id=identity.user_id)
    repo = HubRepo(store, refs)
    backend = _SingleRepoBackend(repo)
    if service == "git-upload-pack" and protocol_v2:
        if advertise:
            upload_v2.advertise(proto)
        else:
            upload_v2.serve(repo, proto)
        return
    if service == "git-upload-pack":
        HubUploadPackHandler(
            backend, ["."], proto, stateless_rpc=True, advertise_refs=advertise
        ).handle()
        return

    push = push_context(hub, identity, target, store, refs)
    HubReceivePackHandler(
        backend, ["."], proto, stateless_rpc=True, advertise_refs=advertise, push=push
    ).handle()


def push_context(
    hub: Hub,
    identity: Identity,
    target: GitTarget,
    store: NetworkObjectStore,
    refs: SqlRefsContainer,
) -> PushContext:
    """How `identity` pushes to `target`: its rules, hooks and compare-and-swap, for
    receive-pack and API commits alike."""

    def apply(updates: list[RefUpdate], atomic: bool) -> dict[bytes, str | None]:
        return apply_ref_updates(
            hub.sessions, target.repo_id, updates, user_id=identity.user_id, atomic=atomic
        )

    hooks = _push_hooks(hub, identity, target, store, refs)
    return PushContext(
        store=store,
        rules=target.rules,
        max_pack_bytes=hub.settings.max_pack_bytes,
        apply_updates=apply,
        pre_receive=hooks.pre_receive,
        post_receive=hooks.post_receive,
        messages=hooks.messages,
    )


def _push_hooks(
    hub: Hub,
    identity: Identity,
    target: GitTarget,
    store: NetworkObjectStore,
    refs: SqlRefsContainer,
) -> PushHooks:
    """RepoHub's shipped policies and the site's hooks, run in git's hook protocol."""
    push = HookPush(
        repo_path(target.repo_type, target.full_name),
        target.repo_type,
        target.repo_id,
        target.network_id,
        identity.name,
    )
    head = b"refs/heads/" + target.rules.default_branch.encode()
    return PushHooks(HookRunner(hub.settings), push, store, refs.as_dict, head)
