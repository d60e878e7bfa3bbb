"""upload-pack: dulwich negotiates, RepoHub's pack writer streams stored representations.

Negotiation (wants, haves, shallow, ACKs) is dulwich's; the expensive part, producing the
pack, reuses the compressed bytes and deltas already in the stored packs instead of
inflating and deflating every object (see shared/reference/git-serving.md).
"""

from __future__ import annotations

from dulwich.protocol import (
    CAPABILITY_NO_DONE,
    CAPABILITY_NO_PROGRESS,
    CAPABILITY_OFS_DELTA,
    CAPABILITY_SIDE_BAND_64K,
    CAPABILITY_THIN_PACK,
    SIDE_BAND_CHANNEL_DATA,
    SIDE_BAND_CHANNEL_PROGRESS,
)
from dulwich.server import UploadPackHandler, _ProtocolGraphWalker

from repohub.git.packwriter import write_pack
from repohub.git.sideband import SidebandWriter


class HubUploadPackHandler(UploadPackHandler):
    def capabilities(self) -> list[bytes]:
        # No `filter`: partial clones would need promisor support we do not offer yet.
        return [c for c in super().capabilities() if not c.startswith(b"filter")] + [
            b"agent=repohub/0.1"
        ]

    def handle(self) -> None:
        self._processing_have_lines = True
        walker = _ProtocolGraphWalker(
            self, self.repo.object_store, self.repo.get_peeled, self.repo.refs.get_symrefs
        )
        wants: list[bytes] = []

        def determine_wants(refs, depth=None):  # type: ignore[no-untyped-def]
            wants.extend(walker.determine_wants(refs, depth))
            return wants

        finder = self.repo.find_missing_objects(
            determine_wants, walker, self.progress, get_tagged=self.get_tagged
        )
        if not wants or finder is None:
            return
        object_ids = [oid for oid, _hint in finder]
        if not walker.handle_done(not self.has_capability(CAPABILITY_NO_DONE), self._done_received):
            return
        self._send_pack(object_ids, set(getattr(finder, "remote_has", ())))
        self.proto.write_pkt_line(None)

    def _send_pack(self, object_ids: list[bytes], client_has: set[bytes]) -> None:
        sideband = self.has_capability(CAPABILITY_SIDE_BAND_64K)
        writer = (
            SidebandWriter(self.proto.write, channel=SIDE_BAND_CHANNEL_DATA) if sideband else None
        )
        if sideband and not self.has_capability(CAPABILITY_NO_PROGRESS):
            SidebandWriter(self.proto.write, channel=SIDE_BAND_CHANNEL_PROGRESS).progress(
                f"Counting objects: {len(object_ids)}, done.\n".encode()
            )
        write_pack(
            self.repo.object_store.packs,
            object_ids,
            writer.write if writer else self.proto.write,
            client_has=client_has,
            thin=self.has_capability(CAPABILITY_THIN_PACK),
            ofs_delta=self.has_capability(CAPABILITY_OFS_DELTA),
            fallback_store=self.repo.object_store,
        )
        if writer:
            writer.flush()
