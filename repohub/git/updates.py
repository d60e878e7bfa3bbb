"""Moving refs for a push, whatever carried its objects: git's receive-pack or an API commit.

Both paths end here, so a commit made over the Hub API and a `git push` of the same objects
meet the same rules (ref names, protected default branch, fast-forward), the same pre-receive
policies and site hooks, the same compare-and-swap with its push log, and the same
post-receive hooks (job triggers). The caller turns the outcome into its own protocol:
`ok`/`ng` lines for git, HTTP answers for the API.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from dulwich.objects import ShaFile
from dulwich.pack import write_pack_objects

from repohub.errors import PermissionDenied, RepoHubError, StorageUnavailable, Unprocessable
from repohub.git.policy import RepoRules, check_update
from repohub.objects.gitstore import IncomingPack, NetworkObjectStore
from repohub.refs.sqlrefs import LOST_RACE, RefUpdate

logger = logging.getLogger(__name__)
HOOK_DECLINED = "pre-receive hook declined"


@dataclass
class PushContext:
    """What a push needs beyond its objects: rules, limits, and how to move refs."""

    store: NetworkObjectStore
    rules: RepoRules
    max_pack_bytes: int
    apply_updates: Callable[[list[RefUpdate], bool], dict[bytes, str | None]]
    pre_receive: Callable[[list[RefUpdate], IncomingPack | None], str | None] = lambda _u, _p: None
    post_receive: Callable[[list[RefUpdate]], None] = lambda _u: None
    messages: list[str] = field(default_factory=list)


@dataclass
class PushOutcome:
    """Per ref: None when it moved, else why not; `refusal` is a declining hook's output;
    `messages` is what the pusher should see (hook output, warnings), in order."""

    verdicts: dict[bytes, str | None]
    refusal: str | None = None
    messages: list[str] = field(default_factory=list)

    def moved(self, ref: bytes) -> bool:
        return ref in self.verdicts and self.verdicts[ref] is None


class PolicyRefused(Unprocessable):
    """A pre-receive policy (shipped or the site's) refused the change; its words follow."""


def require_moved(outcome: PushOutcome, ref: bytes, *, lost: RepoHubError) -> None:
    """Raise why `ref` did not move, for callers that answer over HTTP: a policy's refusal
    in its own words, `lost` when another writer moved the ref first, else the rule broken."""
    verdict = outcome.verdicts.get(ref)
    if outcome.refusal:
        raise PolicyRefused(f"refused by a push policy: {outcome.refusal.strip()}")
    if verdict == LOST_RACE:
        raise lost
    if verdict is not None:
        raise PermissionDenied(verdict)


def apply_push(
    push: PushContext, commands: list[RefUpdate], incoming: IncomingPack | None, *, atomic: bool
) -> PushOutcome:
    """Check, run pre-receive, publish the pack, move refs by CAS, run post-receive.

    The pack is published only once every check and hook has passed, and a ref moves only
    after its objects are stored: a refused push leaves neither refs nor packs behind.
    """
    get: Callable[[bytes], ShaFile] = incoming.get if incoming else push.store.__getitem__
    verdicts = {c.ref: check_update(c, push.rules, get) for c in commands}
    if atomic and any(verdicts.values()):
        return PushOutcome({r: v or "atomic push failed" for r, v in verdicts.items()})
    allowed = [c for c in commands if verdicts[c.ref] is None]
    if not allowed:
        return PushOutcome(verdicts)
    refusal = push.pre_receive(allowed, incoming)
    if refusal:
        declined = {c.ref: verdicts[c.ref] or HOOK_DECLINED for c in commands}
        return PushOutcome(declined, refusal=refusal)
    if incoming is not None:
        incoming.publish()
    results = push.apply_updates(allowed, atomic)
    verdicts.update(results)
    notes = []
    moved = [c for c in allowed if results.get(c.ref) is None]
    if moved:
        try:
            push.post_receive(moved)
        except StorageUnavailable as exc:  # the refs moved: the push itself succeeded
            logger.warning("post-receive: storage unavailable: %s", exc.message)
            notes.append(f"warning: post-receive skipped: storage unavailable: {exc}")
    return PushOutcome(verdicts, messages=[*notes, *push.messages])


def quarantine(max_bytes: int, store: NetworkObjectStore, objects: list[ShaFile]) -> IncomingPack:
    """Objects made on the server (an API commit, an annotated tag) as one pack in
    quarantine, indexed and checked like a pushed pack; `apply_push` publishes it."""
    buf = io.BytesIO()
    write_pack_objects(buf.write, [(o, None) for o in objects], object_format=store.object_format)
    buf.seek(0)
    return store.receive_pack(buf.read, None, max_bytes=max_bytes)
