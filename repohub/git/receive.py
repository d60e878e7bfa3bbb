"""receive-pack: quarantine the pack, check every update, store, then move refs by CAS.

Order matters for "nothing is lost": objects are stored before any ref points at them,
and a ref moves only if it still holds the value the pusher saw. A push cut off mid-way
never gets past quarantine, so it leaves neither refs nor packs behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from dulwich.errors import GitProtocolError
from dulwich.objects import ZERO_SHA, valid_hexsha
from dulwich.protocol import (
    CAPABILITY_ATOMIC,
    CAPABILITY_DELETE_REFS,
    CAPABILITY_OFS_DELTA,
    CAPABILITY_QUIET,
    CAPABILITY_REPORT_STATUS,
    CAPABILITY_SIDE_BAND_64K,
    SIDE_BAND_CHANNEL_DATA,
    SIDE_BAND_CHANNEL_PROGRESS,
    BufferedPktLineWriter,
    extract_capabilities,
    format_ref_line,
    symref_capabilities,
)
from dulwich.server import ReceivePackHandler

from repohub.errors import StorageUnavailable
from repohub.git.updates import PushContext, apply_push
from repohub.objects.gitstore import IncomingPack
from repohub.objects.packerrors import InvalidPack
from repohub.refs.sqlrefs import RefUpdate

logger = logging.getLogger(__name__)
CAPABILITIES_REF = b"capabilities^{}"
AGENT = b"agent=repohub/0.1"


class HubReceivePackHandler(ReceivePackHandler):
    def __init__(self, backend, args, proto, *, stateless_rpc, advertise_refs, push: PushContext):  # type: ignore[no-untyped-def]
        super().__init__(backend, args, proto, stateless_rpc, advertise_refs)
        self.push = push

    def capabilities(self) -> list[bytes]:  # type: ignore[override]
        return [
            CAPABILITY_REPORT_STATUS,
            CAPABILITY_DELETE_REFS,
            CAPABILITY_QUIET,
            CAPABILITY_ATOMIC,
            CAPABILITY_OFS_DELTA,
            CAPABILITY_SIDE_BAND_64K,
            AGENT,
        ]

    def handle(self) -> None:
        if self.advertise_refs:
            self._advertise()
            return
        commands = self._read_commands()
        if commands is None:
            return
        status = self._process(commands)
        if self.has_capability(CAPABILITY_REPORT_STATUS):
            self._report_status(status)

    def _advertise(self) -> None:
        refs = sorted(self.repo.get_refs().items())
        refs = [(n, s) for n, s in refs if n != b"HEAD"] or [(CAPABILITIES_REF, ZERO_SHA)]
        symrefs = sorted(self.repo.refs.get_symrefs().items())
        caps = list(self.capabilities()) + symref_capabilities(symrefs)
        self.proto.write_pkt_line(format_ref_line(refs[0][0], refs[0][1], caps))
        for name, sha in refs[1:]:
            self.proto.write_pkt_line(format_ref_line(name, sha))
        self.proto.write_pkt_line(None)

    def _read_commands(self) -> list[RefUpdate] | None:
        line = self.proto.read_pkt_line()
        if line is None:
            return None
        line, caps = extract_capabilities(line)
        self.set_client_capabilities(caps)
        commands = []
        while line:
            parts = line.rstrip(b"\n").split(b" ")
            if len(parts) != 3 or not (valid_hexsha(parts[0]) and valid_hexsha(parts[1])):
                raise GitProtocolError(f"invalid ref update line: {line[:200]!r}")
            commands.append(RefUpdate(parts[2], parts[0], parts[1]))
            line = self.proto.read_pkt_line()
        return commands

    def _process(self, commands: list[RefUpdate]) -> list[tuple[bytes, bytes]]:
        incoming = None
        if any(c.new != ZERO_SHA for c in commands):
            try:
                incoming = self.push.store.receive_pack(
                    self.proto.read,
                    getattr(self.proto, "recv", None),
                    max_bytes=self.push.max_pack_bytes,
                )
            except InvalidPack as exc:
                return _refused(commands, str(exc), "unpacker error")
            except StorageUnavailable as exc:
                return self._storage_down(commands, exc)
        try:
            return [(b"unpack", b"ok"), *self._update(commands, incoming)]
        except StorageUnavailable as exc:  # raised before any ref moved (see `_update`)
            return self._storage_down(commands, exc)
        finally:
            if incoming is not None:
                incoming.discard()

    def _storage_down(
        self, commands: list[RefUpdate], exc: StorageUnavailable
    ) -> list[tuple[bytes, bytes]]:
        """The server's storage failed, not the pusher's bytes: say so, and log it."""
        logger.warning("push refused, storage unavailable: %s", exc.message)
        message = f"storage unavailable: {exc.message}"
        self._remote(f"error: {message}; nothing was changed, push again later")
        return _refused(commands, message, "storage unavailable")

    def _update(
        self, commands: list[RefUpdate], incoming: IncomingPack | None
    ) -> list[tuple[bytes, bytes]]:
        atomic = self.has_capability(CAPABILITY_ATOMIC)
        outcome = apply_push(self.push, commands, incoming, atomic=atomic)
        for message in [outcome.refusal] if outcome.refusal else outcome.messages:
            self._remote(message)
        return _statuses(commands, outcome.verdicts)

    def _remote(self, message: str) -> None:
        """Hook output reaches the pusher as `remote:` lines even with `--quiet`, as in git."""
        if self.has_capability(CAPABILITY_SIDE_BAND_64K):
            text = message if message.endswith("\n") else message + "\n"
            self.proto.write_sideband(SIDE_BAND_CHANNEL_PROGRESS, text.encode())

    def _report_status(self, status: Sequence[tuple[bytes, bytes]]) -> None:
        if self.has_capability(CAPABILITY_SIDE_BAND_64K):
            writer = BufferedPktLineWriter(
                lambda d: self.proto.write_sideband(SIDE_BAND_CHANNEL_DATA, d)
            )
            _write_status(writer.write, status)
            writer.flush()
            self.proto.write_pkt_line(None)
        else:
            _write_status(self.proto.write_pkt_line, status)


def _write_status(
    write: Callable[[bytes | None], object], status: Sequence[tuple[bytes, bytes]]
) -> None:
    for name, msg in status:
        if name == b"unpack":
            write(b"unpack " + msg + b"\n")
        elif msg == b"ok":
            write(b"ok " + name + b"\n")
        else:
            write(b"ng " + name + b" " + msg + b"\n")
    write(None)


def _refused(commands: list[RefUpdate], reason: str, per_ref: str) -> list[tuple[bytes, bytes]]:
    """The whole push fails at the unpack step: `reason` is what git prints as the cause."""
    unpack = reason.replace("\n", " ")[:400].encode()
    return [(b"unpack", unpack)] + [(c.ref, per_ref.encode()) for c in commands]


def _statuses(
    commands: list[RefUpdate], verdicts: dict[bytes, str | None]
) -> list[tuple[bytes, bytes]]:
    return [(c.ref, (verdicts.get(c.ref) or "ok").encode()) for c in commands]
