"""SidebandWriter frames, decoded back with dulwich's own pkt-line reader."""

from __future__ import annotations

import random
from io import BytesIO

import pytest
from dulwich.protocol import Protocol

from repohub.git.sideband import MAX_PAYLOAD, SidebandWriter

MAX_FRAME = MAX_PAYLOAD + 5


class Sink:
    """Records each write, as a transport would see it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def __call__(self, data: bytes | memoryview) -> None:
        self.writes.append(bytes(data))

    def frames(self) -> list[tuple[int, bytes]]:
        """Decode everything written into (channel, payload) pairs."""
        proto = Protocol(BytesIO(b"".join(self.writes) + b"0000").read, None)  # type: ignore[arg-type]
        return [(pkt[0], pkt[1:]) for pkt in proto.read_pkt_seq()]

    def channel(self, number: int) -> bytes:
        return b"".join(payload for channel, payload in self.frames() if channel == number)


def test_small_writes_are_gathered_into_full_frames() -> None:
    sink = Sink()
    writer = SidebandWriter(sink)
    pieces = [random.Random(n).randbytes(100 + n % 50) for n in range(5000)]

    for piece in pieces:
        writer.write(piece)
    writer.flush()

    frames = sink.frames()
    assert b"".join(payload for _channel, payload in frames) == b"".join(pieces)
    assert {channel for channel, _payload in frames} == {1}
    assert all(len(payload) == MAX_PAYLOAD for _channel, payload in frames[:-1])
    assert len(sink.writes) == len(frames) == -(-sum(map(len, pieces)) // MAX_PAYLOAD)


def test_large_payload_is_framed_linearly() -> None:
    """64 MiB, the size that took stock dulwich 15 s; each write is one whole frame."""
    sink = Sink()
    writer = SidebandWriter(sink)
    payload = random.Random(1).randbytes(64 << 20)

    writer.write(payload)
    writer.flush()

    assert max(len(write) for write in sink.writes) <= MAX_FRAME
    assert len(sink.writes) == -(-len(payload) // MAX_PAYLOAD)
    assert sink.channel(1) == payload


def test_mixed_sizes_keep_order_and_fill_frames() -> None:
    sink = Sink()
    writer = SidebandWriter(sink)
    rng = random.Random(2)
    pieces = [rng.randbytes(size) for size in (10, 200_000, 3, MAX_PAYLOAD, 70_000, 1, 0, 5)]

    for piece in pieces:
        writer.write(memoryview(piece))
    writer.flush()

    frames = sink.frames()
    assert sink.channel(1) == b"".join(pieces)
    assert all(len(payload) == MAX_PAYLOAD for _channel, payload in frames[:-1])
    assert all(len(write) <= MAX_FRAME for write in sink.writes)


def test_caller_may_reuse_its_buffer_after_write() -> None:
    sink = Sink()
    writer = SidebandWriter(sink)
    buffer = bytearray(b"first")

    writer.write(buffer)
    buffer[:] = b"XXXXX"
    writer.flush()

    assert sink.channel(1) == b"first"


def test_flush_without_data_sends_nothing() -> None:
    sink = Sink()
    writer = SidebandWriter(sink)

    writer.flush()
    writer.write(b"")
    writer.flush()

    assert sink.writes == []


def test_progress_goes_out_at_once_on_channel_2() -> None:
    sink = Sink()
    writer = SidebandWriter(sink)

    writer.write(b"pack data")
    writer.progress(b"Counting objects: 3, done.\n")

    assert sink.frames() == [(2, b"Counting objects: 3, done.\n")]
    writer.flush()
    assert sink.frames()[-1] == (1, b"pack data")


def test_error_follows_pending_data_on_channel_3() -> None:
    sink = Sink()
    writer = SidebandWriter(sink)

    writer.write(b"partial pack")
    writer.error(b"object store unavailable\n")

    assert sink.frames() == [(1, b"partial pack"), (3, b"object store unavailable\n")]


def test_long_messages_are_split() -> None:
    sink = Sink()
    writer = SidebandWriter(sink, max_payload=10)

    writer.progress(b"a" * 25)
    writer.write(b"b" * 25)
    writer.flush()

    assert [(channel, len(payload)) for channel, payload in sink.frames()] == [
        (2, 10),
        (2, 10),
        (2, 5),
        (1, 10),
        (1, 10),
        (1, 5),
    ]


def test_other_data_channel() -> None:
    sink = Sink()
    writer = SidebandWriter(sink, channel=2)

    writer.write(b"progress text")
    writer.flush()

    assert sink.frames() == [(2, b"progress text")]


@pytest.mark.parametrize(
    ("channel", "max_payload"), [(1, 0), (1, MAX_PAYLOAD + 1), (0, 10), (256, 10)]
)
def test_rejects_impossible_frames(channel: int, max_payload: int) -> None:
    with pytest.raises(ValueError, match="must"):
        SidebandWriter(Sink(), channel=channel, max_payload=max_payload)
