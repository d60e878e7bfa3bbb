"""Index a pushed pack while it streams in, holding no whole object it does not need.

dulwich's `PackStreamCopier` + `PackIndexer` inflate every object whole, twice: a push of one
1 GB blob holds more than 1 GB in the server. This indexer does what `git index-pack` does:

* pass 1 reads the wire once, copies the bytes verbatim to `out`, keeps the pack's running
  hash and each entry's CRC32, and inflates each entry in bounded pieces. A whole object
  (not a delta) gets its id hashed as it inflates and is then forgotten; only commits, trees
  and tags, which are small and whose structure matters, are kept long enough to be checked;
* pass 2 resolves deltas from the copy on disk, keeping a base cached (LRU, bounded by bytes)
  only while some of its deltas are unresolved, so memory is the largest delta-resolved
  object plus that cache;
* a thin pack (deltas against objects the network already has) is completed by appending
  those bases as whole objects, as the store never keeps thin packs. That rewrites the
  header, so the pack is hashed once more from disk: thin pushes only.
"""

from __future__ import annotations

import mmap
import os
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from dulwich.errors import ApplyDeltaError, ObjectFormatException
from dulwich.object_format import SHA1, ObjectFormat
from dulwich.objects import Commit, ShaFile, Tag, Tree, parse_tree
from dulwich.pack import apply_delta, extend_pack

from repohub.objects.packerrors import InvalidPack, PackTooLarge

CHUNK = 1 << 20  # the most bytes read from the wire, or inflated, at once
WINDOW = 256 << 10  # the most compressed bytes fed to zlib at once (its leftovers are copied)
BASE_CACHE_BYTES = 64 << 20
OFS_DELTA, REF_DELTA = 6, 7
_TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_STRUCTURED: dict[int, type[ShaFile]] = {1: Commit, 2: Tree, 4: Tag}
_MAX_VARINT_SHIFT = 64
_DIR_MODE = 0o040000
_TREE_MODES = frozenset({0o100644, 0o100755, 0o100664, 0o120000, _DIR_MODE, 0o160000})
_BAD_NAMES = frozenset({b"", b".", b"..", b".git"})

ResolveExtRef = Callable[[bytes], tuple[int, bytes]]
IndexEntry = tuple[bytes, int, int]  # (object id, offset, crc32): what a .idx records
BaseKey = int | bytes  # an entry's index in the pack, or the id of an object outside it


class MissingDeltaBase(KeyError):
    """A delta's base is neither in the pack nor in the network (a KeyError, as dulwich's)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "missing delta base"


@dataclass(frozen=True)
class IndexedPack:
    """What the .idx needs: entries in pack order, and the checksum the pack ends with.

    `ext_refs` are the objects appended to complete a thin pack (empty otherwise).
    """

    entries: list[IndexEntry]
    checksum: bytes
    ext_refs: list[bytes]


@dataclass(slots=True)
class _Entry:
    """One pack entry as pass 1 saw it; pass 2 fills in the id and type of deltas."""

    offset: int
    data_start: int  # where its zlib stream starts
    end: int
    crc32: int
    pack_type: int
    size: int  # inflated size as stored (of the delta itself, for deltas)
    sha: bytes | None = None
    type_num: int = 0  # the object's type; a delta's is its base's
    base: BaseKey | None = None  # OFS: base entry index; REF: base id (an index once found)


def index_pack_stream(
    read_some: Callable[[int], bytes],
    out: BinaryIO,
    *,
    resolve_ext_ref: ResolveExtRef,
    max_bytes: int | None = None,
    object_format: ObjectFormat = SHA1,
) -> IndexedPack:
    """Copy a pack from `read_some` to `out` (a real file, opened w+b), index and complete it.

    `read_some(n)` returns 1..n bytes, or b"" at the end of the stream. Raises InvalidPack for
    anything that is not a well-formed pack, PackTooLarge past `max_bytes`, MissingDeltaBase
    when a delta's base is neither in the pack nor known to `resolve_ext_ref`. Bytes after
    the checksum are refused if they came with the pack; the reader never waits for more, as
    on a two-way connection the client sends nothing after its pack.
    """
    entries, checksum = _copy_and_scan(_Wire(read_some, max_bytes), out, object_format)
    out.flush()
    ext_refs = _Resolver(out, entries, resolve_ext_ref, object_format).resolve_all()
    index = [(e.sha, e.offset, e.crc32) for e in entries if e.sha is not None]
    if len(index) != len(entries):
        raise _malformed(f"{len(entries) - len(index)} deltas could not be resolved")
    if not ext_refs:
        return IndexedPack(index, checksum, [])
    new_checksum, extra = extend_pack(
        out, set(ext_refs), get_raw=resolve_ext_ref, object_format=object_format
    )
    out.flush()
    return IndexedPack(index + [(s, o, c) for s, o, c in extra], new_checksum, ext_refs)


# -- pass 1: the wire ------------------------------------------------------------------------


def _malformed(what: str) -> InvalidPack:
    return InvalidPack(f"malformed pack: {what}")


class _Wire:
    """The incoming bytes, buffered, counted against the size limit."""

    def __init__(self, read_some: Callable[[int], bytes], max_bytes: int | None) -> None:
        self._read = read_some
        self._left = max_bytes
        self._buf = b""
        self._pos = 0

    def _fill(self) -> None:
        data = self._read(CHUNK)
        if not data:
            raise _malformed("truncated: the stream ended before the pack did")
        if self._left is not None:
            self._left -= len(data)
            if self._left < 0:
                raise PackTooLarge("pack exceeds the size limit of this server")
        self._buf = self._buf[self._pos :] + data if self._pos < len(self._buf) else data
        self._pos = 0

    def take(self, n: int) -> bytes:
        """Exactly `n` bytes."""
        while len(self._buf) - self._pos < n:
            self._fill()
        data = self._buf[self._pos : self._pos + n]
        self._pos += n
        return data

    def byte(self) -> int:
        if self._pos == len(self._buf):
            self._fill()
        self._pos += 1
        return self._buf[self._pos - 1]

    def window(self, hint: int) -> memoryview:
        """Up to `hint` of the bytes not consumed yet (at least one); `skip` consumes them."""
        if self._pos == len(self._buf):
            self._fill()
        return memoryview(self._buf)[self._pos : self._pos + hint]

    def skip(self, n: int) -> None:
        self._pos += n

    def leftover(self) -> int:
        """Bytes read past what was consumed (only what arrived; never waits for more)."""
        return len(self._buf) - self._pos


class _Copier:
    """Everything consumed from the wire: copied to `out`, hashed, CRC'd per entry."""

    def __init__(self, out: BinaryIO, object_format: ObjectFormat) -> None:
        self._out = out
        self.pack_hash = object_format.new_hash()
        self.offset = 0
        self.crc32 = 0

    def emit(self, data: bytes | memoryview) -> None:
        self._out.write(data)
        self.pack_hash.update(data)
        self.crc32 = zlib.crc32(data, self.crc32)
        self.offset += len(data)


def _copy_and_scan(
    wire: _Wire, out: BinaryIO, object_format: ObjectFormat
) -> tuple[list[_Entry], bytes]:
    """Pass 1: copy and check the whole pack, hashing whole objects as they inflate."""
    copier = _Copier(out, object_format)
    count = _read_pack_header(wire, copier)
    entries: list[_Entry] = []
    by_offset: dict[int, int] = {}
    for _ in range(count):
        entry = _read_entry(wire, copier, object_format, by_offset)
        by_offset[entry.offset] = len(entries)
        entries.append(entry)
    trailer = wire.take(object_format.oid_length)
    if trailer != copier.pack_hash.digest():
        raise _malformed(
            f"checksum mismatch: the pack ends with {trailer.hex()}, "
            f"its content hashes to {copier.pack_hash.hexdigest()}"
        )
    if wire.leftover():
        raise _malformed(f"{wire.leftover()} bytes of trailing garbage after the checksum")
    out.write(trailer)
    return entries, trailer


def _read_pack_header(wire: _Wire, copier: _Copier) -> int:
    header = wire.take(12)
    if header[:4] != b"PACK":
        raise _malformed(f"bad signature {header[:4]!r}")
    version = int.from_bytes(header[4:8], "big")
    if version not in (2, 3):
        raise _malformed(f"unsupported version {version}")
    copier.emit(header)
    return int.from_bytes(header[8:12], "big")


def _read_entry(
    wire: _Wire, copier: _Copier, object_format: ObjectFormat, by_offset: dict[int, int]
) -> _Entry:
    """One entry: header, delta base, then its zlib stream, all copied through `copier`."""
    offset = copier.offset
    copier.crc32 = 0
    header = bytearray()
    pack_type, size = _read_type_and_size(wire, header)
    base: BaseKey | None = None
    if pack_type == OFS_DELTA:
        distance = _read_ofs_distance(wire, header)
        if offset - distance not in by_offset:
            raise _malformed(
                f"delta at offset {offset} has no entry at its base {offset - distance}"
            )
        base = by_offset[offset - distance]
    elif pack_type == REF_DELTA:
        base = wire.take(object_format.oid_length)
        header += base
    elif pack_type not in _TYPE_NAMES:
        raise _malformed(f"unknown object type {pack_type} at offset {offset}")
    copier.emit(header)
    entry = _Entry(offset, copier.offset, 0, 0, pack_type, size, base=base)
    if base is None:
        entry.type_num = pack_type
        entry.sha = _inflate_object(wire, copier, offset, (pack_type, size), object_format)
    else:
        _inflate(wire, copier, offset, size, lambda _data: None)
    entry.end, entry.crc32 = copier.offset, copier.crc32
    return entry


def _read_type_and_size(wire: _Wire, header: bytearray) -> tuple[int, int]:
    byte = wire.byte()
    header.append(byte)
    pack_type, size, shift = (byte >> 4) & 7, byte & 0x0F, 4
    while byte & 0x80:
        if shift > _MAX_VARINT_SHIFT:
            raise _malformed("object size does not fit in 64 bits")
        byte = wire.byte()
        header.append(byte)
        size |= (byte & 0x7F) << shift
        shift += 7
    return pack_type, size


def _read_ofs_distance(wire: _Wire, header: bytearray) -> int:
    """git's offset encoding: big-endian base-128, each continuation adding one."""
    byte = wire.byte()
    header.append(byte)
    distance = byte & 0x7F
    while byte & 0x80:
        if distance.bit_length() > _MAX_VARINT_SHIFT:
            raise _malformed("delta base offset does not fit in 64 bits")
        byte = wire.byte()
        header.append(byte)
        distance = ((distance + 1) << 7) | (byte & 0x7F)
    if distance == 0:
        raise _malformed("delta base offset is 0")
    return distance


def _inflate_object(
    wire: _Wire,
    copier: _Copier,
    offset: int,
    type_and_size: tuple[int, int],
    object_format: ObjectFormat,
) -> bytes:
    """Inflate a whole object, hashing it; keep (and check) it only if it is structured."""
    type_num, size = type_and_size
    hasher = object_format.new_hash()
    hasher.update(_TYPE_NAMES[type_num] + b" %d\0" % size)
    kept: list[bytes] | None = [] if type_num in _STRUCTURED else None

    def consume(data: bytes) -> None:
        hasher.update(data)
        if kept is not None:
            kept.append(data)

    _inflate(wire, copier, offset, size, consume)
    if kept is not None:
        _check_structured(type_num, kept, object_format)
    return hasher.digest()


def _inflate(
    wire: _Wire, copier: _Copier, offset: int, size: int, consume: Callable[[bytes], None]
) -> None:
    """Inflate one zlib stream off the wire in bounded pieces; it must inflate to `size`.

    The compressed bytes offered at once are about what `size` deflates to at worst (more, if
    the stream proves longer): zlib copies whatever it gets beyond the stream's end, and most
    entries are small.
    """
    inflater = zlib.decompressobj()
    left = size
    taken = 0
    while not inflater.eof:
        window = wire.window(min(WINDOW, max(left + (left >> 10), taken) + 64))
        try:
            data = inflater.decompress(window, min(left, CHUNK) + 1)
        except zlib.error as exc:
            raise _malformed(f"bad zlib stream in the entry at offset {offset}: {exc}") from exc
        used = len(window) - len(inflater.unconsumed_tail) - len(inflater.unused_data)
        copier.emit(window[:used])
        wire.skip(used)
        taken += used
        left -= len(data)
        if left < 0:
            raise _malformed(f"entry at offset {offset} inflates to more than its size {size}")
        consume(data)
    if left:
        raise _malformed(f"entry at offset {offset} inflates to less than its size {size}")


def _check_structured(type_num: int, chunks: list[bytes], object_format: ObjectFormat) -> None:
    """`receive.fsckObjects` for commits, trees and tags: a tree naming `..` never gets in."""
    if type_num == Tree.type_num and _plainly_valid_tree(b"".join(chunks), object_format):
        return
    try:
        obj = _STRUCTURED[type_num].from_raw_chunks(type_num, chunks, object_format=object_format)
        obj.check()
    except (ObjectFormatException, ValueError) as exc:  # dulwich lets some ValueErrors out
        raise InvalidPack(f"invalid object in pack: {exc}") from exc


def _plainly_valid_tree(raw: bytes, object_format: ObjectFormat) -> bool:
    """dulwich's `Tree.check` rules in a few C-speed steps, for the common, sound tree.

    `Tree.check` parses the tree twice and runs a Python loop over every entry (each hex id
    re-validated): on a many-files push that costs about as much as inflating the whole pack.
    Anything this is not sure of goes to `Tree.check`, which stays the authority and words the
    error (it also accepts a few trees this refuses, e.g. a name repeated non-adjacently).
    """
    try:
        entries = parse_tree(raw, strict=True, sha_len=object_format.oid_length)
    except ObjectFormatException:
        return False
    names = [name for name, _mode, _sha in entries]
    if not {mode for _name, mode, _sha in entries} <= _TREE_MODES:
        return False
    if not _BAD_NAMES.isdisjoint(names) or b"/" in b"\0".join(names):
        return False
    # git's order: a subtree sorts as if its name ended in "/"; the modes are known by now
    keys = [name + b"/" if mode == _DIR_MODE else name for name, mode, _sha in entries]
    return len(set(names)) == len(names) and all(map(bytes.__lt__, keys, keys[1:]))


# -- pass 2: deltas --------------------------------------------------------------------------


class _BaseCache:
    """Recently resolved objects, least recently used out first, bounded by total bytes."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._bytes = 0
        self._items: OrderedDict[BaseKey, tuple[int, bytes]] = OrderedDict()

    def get(self, key: BaseKey) -> tuple[int, bytes] | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def discard(self, key: BaseKey) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self._bytes -= len(item[1])

    def put(self, key: BaseKey, item: tuple[int, bytes]) -> None:
        if len(item[1]) > self._limit or key in self._items:
            return
        self._items[key] = item
        self._bytes += len(item[1])
        while self._bytes > self._limit:
            _, (_, old) = self._items.popitem(last=False)
            self._bytes -= len(old)


class _Resolver:
    """Pass 2: resolve every delta, reading entries back from the copy on disk.

    Deltas are walked depth-first from their bases. A base stays cached only while some of
    its deltas are still to be resolved (and the cache has room); one evicted, or too big to
    cache, is rebuilt from its own chain when needed again, never kept against the bound.
    """

    def __init__(
        self,
        pack: BinaryIO,
        entries: list[_Entry],
        resolve_ext_ref: ResolveExtRef,
        object_format: ObjectFormat,
    ) -> None:
        self._fd = pack.fileno()
        self._entries = entries
        self._resolve_ext_ref = resolve_ext_ref
        self._format = object_format
        self._cache = _BaseCache(BASE_CACHE_BYTES)
        self._last: tuple[BaseKey, tuple[int, bytes]] | None = None  # the base used last
        self._children: dict[BaseKey, list[int]] = {}
        self._waiting: dict[bytes, list[int]] = {}  # REF deltas whose base is not found yet
        self._kids_left: dict[BaseKey, int] = {}  # bases with deltas still to resolve

    def resolve_all(self) -> list[bytes]:
        """Resolve every delta; return the ids of the bases taken from outside the pack."""
        if all(e.base is None for e in self._entries):
            return []
        self._link()
        for index, entry in enumerate(self._entries):
            if entry.base is None and index in self._children:
                self._walk(index, self._children.pop(index))
        ext_refs = self._walk_external()
        self._last = None
        return ext_refs

    def _link(self) -> None:
        """Hang each delta under its base: an entry index if known, else its id (waiting)."""
        whole = {e.sha: i for i, e in enumerate(self._entries) if e.base is None}
        for index, entry in enumerate(self._entries):
            base = entry.base
            if isinstance(base, bytes) and base in whole:
                base = entry.base = whole[base]
            if isinstance(base, int):
                self._children.setdefault(base, []).append(index)
            elif isinstance(base, bytes):
                self._waiting.setdefault(base, []).append(index)

    def _walk_external(self) -> list[bytes]:
        """Deltas on objects outside the pack: the network must have the base."""
        ext_refs = []
        for sha in sorted(self._waiting):
            if sha not in self._waiting:
                continue  # resolved meanwhile, by a chain through another external base
            try:
                base = self._resolve_ext_ref(sha)
            except KeyError:
                continue  # maybe the result of a delta that waits on a later external base
            ext_refs.append(sha)
            self._last = (sha, base)
            self._walk(sha, self._waiting.pop(sha))
        if self._waiting:
            missing = ", ".join(s.hex() for s in sorted(self._waiting))
            raise MissingDeltaBase(f"delta bases not in the pack nor the repository: {missing}")
        in_pack = {e.sha for e in self._entries}
        return [sha for sha in ext_refs if sha not in in_pack]

    def _walk(self, root: BaseKey, kids: list[int]) -> None:
        self._kids_left[root] = len(kids)
        stack = list(kids)
        while stack:
            index = stack.pop()
            entry = self._entries[index]
            assert entry.base is not None
            type_num, data = self._apply(index, self._object(entry.base))
            self._done_with(entry.base)
            entry.type_num, entry.sha = type_num, self._hash(type_num, data)
            waiting = self._waiting.pop(entry.sha, [])
            for child in waiting:
                self._entries[child].base = index
            kids = self._children.pop(index, []) + waiting
            if kids:
                self._kids_left[index] = len(kids)
                self._cache.put(index, (type_num, data))
                stack.extend(kids)

    def _done_with(self, base: BaseKey) -> None:
        """One more delta of `base` resolved; after its last, `base` need not stay cached."""
        self._kids_left[base] -= 1
        if not self._kids_left[base]:
            del self._kids_left[base]
            self._cache.discard(base)
            if self._last is not None and self._last[0] == base:
                self._last = None

    def _object(self, key: BaseKey) -> tuple[int, bytes]:
        """A base's type and content: cached, else inflated, else rebuilt up its chain."""
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        chain: list[int] = []
        found = self._cache.get(key)
        while found is None and isinstance(key, int):
            base = self._entries[key].base
            if base is None:
                break
            chain.append(key)
            key = base
            found = self._cache.get(key)
        if found is None:
            found = self._load(key)
            self._keep(key, found)
        for index in reversed(chain):
            found = self._apply(index, found)
            self._keep(index, found)
        self._last = (chain[0] if chain else key, found)
        return found

    def _load(self, key: BaseKey) -> tuple[int, bytes]:
        if isinstance(key, bytes):
            return self._resolve_ext_ref(key)
        entry = self._entries[key]
        return entry.type_num, self._inflate(entry)

    def _keep(self, key: BaseKey, item: tuple[int, bytes]) -> None:
        if key in self._kids_left:
            self._cache.put(key, item)

    def _apply(self, index: int, base: tuple[int, bytes]) -> tuple[int, bytes]:
        entry = self._entries[index]
        type_num, base_data = base
        try:
            data = b"".join(apply_delta(base_data, self._inflate(entry)))
        except ApplyDeltaError as exc:
            raise _malformed(f"bad delta at offset {entry.offset}: {exc}") from exc
        if type_num in _STRUCTURED:
            if not data:
                raise _malformed(f"delta at offset {entry.offset} resolves to an empty object")
            _check_structured(type_num, [data], self._format)
        return type_num, data

    def _inflate(self, entry: _Entry) -> bytes:
        """An entry's inflated bytes, read back from the pack on disk.

        A big entry is inflated straight from a mapping of the file, not from a copy of its
        compressed bytes, so it costs its inflated size in memory and not twice that.
        """
        start, end, size = entry.data_start, entry.end, max(entry.size, 1)
        if end - start <= CHUNK:
            return zlib.decompress(os.pread(self._fd, end - start, start), bufsize=size)
        aligned = start - start % mmap.ALLOCATIONGRANULARITY
        with (
            mmap.mmap(self._fd, end - aligned, offset=aligned, access=mmap.ACCESS_READ) as mapped,
            memoryview(mapped) as view,
        ):
            return zlib.decompress(view[start - aligned :], bufsize=size)

    def _hash(self, type_num: int, data: bytes) -> bytes:
        hasher = self._format.new_hash()
        hasher.update(_TYPE_NAMES[type_num] + b" %d\0" % len(data))
        hasher.update(data)
        return hasher.digest()
