"""Frames: numbered, compressed, columnar chunks of rows; the unit that is applied and
acknowledged.

Layout: a 32-byte envelope (magic "AF", version, flags, transfer id, sequence number,
payload length, CRC-32 of the payload) then the payload, zstd-compressed msgpack::

    {"i": [instance ids],                 # each frame's own dictionary of instance ids
     "t": [{"n": table, "c": [columns], "d": [[values of column 0], ...]}, ...],
     "p": {"c": [...], "d": [...]},       # purge records, same columnar layout
     "h": {...},                          # frame 0: sender, scope, sender's vector
     "v": [[instance, counter], ...]}     # last frame: the sender's snapshot vector

Values are columnar with no per-record envelope: UUIDs are 16 raw bytes, the row's
instance an index into "i", counters and HLC stamps deltas from the previous row. A
frame is checked whole (lengths, CRC, size limits, types) before anything is applied.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zstandard

from ardoise.errors import Invalid, TooLarge
from ardoise.i18n import N_
from sync import codec, stamps
from sync.changes import Batch
from sync.registry import Registry
from sync.tables import SyncPurge

PURGE_TABLE: Any = SyncPurge.__table__

MAGIC = b"AF"
VERSION = 1
ENVELOPE = struct.Struct(">2sBB16sIII")
FLAG_LAST = 1
TARGET_BYTES = 48 * 1024  # compressed size we aim for: a cut re-sends at most this
MAX_FRAME_BYTES = 2 * 1024 * 1024  # refused above this (compressed)
MAX_RAW_BYTES = 32 * 1024 * 1024  # refused above this (decompressed)
MAX_ROWS = 200_000
LEVEL = 9
PURGE_COLUMNS = ["id", "table_name", "row_id", "school_id", "classroom_id", "sync_instance",
                 "sync_counter", "sync_hlc"]
DELTA = ("sync_counter", "sync_hlc")


class FrameError(Invalid):
    code = "bad_frame"


@dataclass
class Frame:
    transfer_id: uuid.UUID
    seq: int
    last: bool
    header: dict[str, Any] | None = None
    vector: list[Any] | None = None
    tables: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    purges: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(len(r) for _n, r in self.tables) + len(self.purges)


def _columnar(columns: list[str], rows: list[tuple[Any, ...]], instances: dict[bytes, int]
              ) -> list[list[Any]]:
    data: list[list[Any]] = []
    for j, name in enumerate(columns):
        values = [codec.encode(r[j]) for r in rows]
        if name == "sync_instance":
            values = [instances.setdefault(v or bytes(16), len(instances)) for v in values]
        elif name in DELTA:
            prev, deltas = 0, []
            for v in values:
                deltas.append(v - prev)
                prev = v
            values = deltas
        data.append(values)
    return data


def pack_frame(transfer_id: uuid.UUID, seq: int, last: bool, body: dict[str, Any]) -> bytes:
    payload = zstandard.ZstdCompressor(level=LEVEL).compress(
        msgpack.packb(body, use_bin_type=True))
    return ENVELOPE.pack(MAGIC, VERSION, FLAG_LAST if last else 0, transfer_id.bytes, seq,
                         len(payload), zlib.crc32(payload)) + payload


def _estimate(row: tuple[Any, ...]) -> int:
    size = 0
    for v in row:
        if isinstance(v, (str, bytes)):
            size += len(v) + 2
        else:
            size += 9
    return size


def build(transfer_id: uuid.UUID, batches: Iterable[Batch], header: dict[str, Any],
          final_vector: list[Any], target: int = TARGET_BYTES) -> Iterator[bytes]:
    """Frames for a stream of batches; the first carries `header`, the last the vector.

    Rows are gathered until their estimated raw size reaches a budget; the budget adapts
    to the compression seen so far, so frames stay close to `target` bytes compressed.
    """
    raw_budget = target * 4
    seq = 0
    body: dict[str, Any] = {}
    instances: dict[bytes, int] = {}
    pending: list[tuple[Batch, list[tuple[Any, ...]]]] = []
    size = 0

    def flush(last: bool) -> bytes:
        nonlocal seq, body, instances, pending, size, raw_budget
        body = {"h": header} if seq == 0 else {}
        tables, purges = [], None
        for b, rows in pending:
            data = _columnar(b.columns, rows, instances)
            if b.rule is None:
                purges = {"c": b.columns, "d": data}
            else:
                tables.append({"n": b.rule.name, "c": b.columns, "d": data})
        body["i"] = sorted(instances, key=instances.__getitem__)
        if tables:
            body["t"] = tables
        if purges:
            body["p"] = purges
        if last:
            body["v"] = final_vector
        frame = pack_frame(transfer_id, seq, last, body)
        if size > 1024:  # adapt the raw budget to the compression ratio seen
            ratio = (len(frame) - ENVELOPE.size) / size
            raw_budget = max(8 * 1024, min(int(target / max(ratio, 0.01)), 4 * 1024 * 1024))
        seq += 1
        instances, pending, size = {}, [], 0
        return frame

    for batch in batches:
        rows = list(batch.rows)
        while rows:
            take, grown = 0, 0
            while take < len(rows) and (size + grown < raw_budget or (take == 0 and not pending)):
                grown += _estimate(rows[take])
                take += 1
            if take:
                if pending and pending[-1][0] is batch:
                    pending[-1][1].extend(rows[:take])
                else:
                    pending.append((batch, rows[:take]))
                size += grown
                rows = rows[take:]
            if rows:
                yield flush(False)
    yield flush(True)


def peek(data: bytes) -> tuple[uuid.UUID, int, bool, int]:
    """Transfer id, sequence, last flag and total length of the frame at the start of `data`."""
    if len(data) < ENVELOPE.size:
        raise FrameError(N_("A frame is truncated (%(size)s bytes)."), size=len(data))
    magic, version, flags, tid, seq, length, _crc = ENVELOPE.unpack_from(data)
    if magic != MAGIC:
        raise FrameError(N_("This is not a sync frame (bad magic)."))
    if version != VERSION:
        raise FrameError(N_("Frame version %(version)s is not supported: update this "
                            "device."), version=version)
    if length > MAX_FRAME_BYTES:
        raise TooLarge(N_("A frame is too large (%(size)s bytes, the limit is %(limit)s)."),
                       size=length, limit=MAX_FRAME_BYTES)
    return uuid.UUID(bytes=tid), seq, bool(flags & FLAG_LAST), ENVELOPE.size + length


def split(data: bytes) -> Iterator[bytes]:
    """The frames of a byte string holding several, whole (or FrameError)."""
    pos = 0
    while pos < len(data):
        _t, _s, _l, total = peek(data[pos:pos + ENVELOPE.size])
        if pos + total > len(data):
            raise FrameError(N_("A frame is truncated (%(size)s bytes)."), size=len(data) - pos)
        yield data[pos:pos + total]
        pos += total


def decode(data: bytes, registry: Registry) -> Frame:
    """Check and decode one frame; Invalid (nothing applied) when anything is wrong."""
    tid, seq, last, total = peek(data)
    if len(data) != total:
        raise FrameError(N_("A frame is truncated (%(size)s bytes)."), size=len(data))
    _m, _v, _f, _t, _s, _length, crc = ENVELOPE.unpack_from(data)
    payload = data[ENVELOPE.size:]
    if zlib.crc32(payload) != crc:
        raise FrameError(N_("A frame is corrupt (checksum mismatch)."))
    try:
        raw = zstandard.ZstdDecompressor().decompress(payload, max_output_size=MAX_RAW_BYTES)
    except zstandard.ZstdError:
        raise FrameError(N_("A frame is corrupt or too large once decompressed.")) from None
    if len(raw) > MAX_RAW_BYTES:
        raise TooLarge(N_("A frame is too large once decompressed."))
    try:
        body = msgpack.unpackb(raw, raw=False, strict_map_key=True, use_list=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        raise FrameError(N_("A frame is corrupt (unreadable content).")) from None
    if not isinstance(body, dict):
        raise FrameError(N_("A frame is corrupt (unreadable content)."))
    frame = Frame(tid, seq, last)
    instances = body.get("i", [])
    if not isinstance(instances, list) or not all(
            isinstance(i, bytes) and len(i) == 16 for i in instances):
        raise FrameError(N_("A frame is corrupt (instance list)."))
    inst_ids = [uuid.UUID(bytes=i) for i in instances]
    header = body.get("h")
    if seq == 0 and not isinstance(header, dict):
        raise FrameError(N_("The first frame of a transfer lacks its header."))
    frame.header = header if isinstance(header, dict) else None
    if last:
        frame.vector = body.get("v")
        if not isinstance(frame.vector, list):
            raise FrameError(N_("The last frame of a transfer lacks its vector."))
    tables = body.get("t", [])
    if not isinstance(tables, list):
        raise FrameError(N_("A frame is corrupt (table list)."))
    count = 0
    for chunk in tables:
        if not isinstance(chunk, dict) or not isinstance(chunk.get("n"), str):
            raise FrameError(N_("A frame is corrupt (table list)."))
        rule = registry.get(chunk["n"])
        if rule is None:
            raise FrameError(N_("A frame carries rows of %(table)s, which does not sync "
                                "here."), table=chunk["n"][:100])
        expected = [c.name for c in rule.table.columns]
        rows = _rows(chunk, expected, rule.table.columns, rule.name, inst_ids)
        count += len(rows)
        frame.tables.append((rule.name, rows))
    if "p" in body:
        cols = [PURGE_TABLE.c[n] for n in PURGE_COLUMNS]
        frame.purges = _rows(body["p"], PURGE_COLUMNS, cols, "sync_purge", inst_ids)
        count += len(frame.purges)
    if count > MAX_ROWS:
        raise TooLarge(N_("A frame carries too many rows (%(rows)s)."), rows=count)
    return frame


def _rows(chunk: Any, expected: list[str], columns: Any, table: str,
          inst_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    if not isinstance(chunk, dict):
        raise FrameError(N_("A frame is corrupt (table list)."))
    names, data = chunk.get("c"), chunk.get("d")
    if names != expected:
        raise FrameError(N_("A frame's columns for %(table)s do not match this schema: "
                            "update the older side."), table=table)
    if not isinstance(data, list) or len(data) != len(names) or not all(
            isinstance(col, list) for col in data):
        raise FrameError(N_("A frame is corrupt (columns of %(table)s)."), table=table)
    n = len(data[0]) if data else 0
    if any(len(col) != n for col in data) or n > MAX_ROWS:
        raise FrameError(N_("A frame is corrupt (columns of %(table)s)."), table=table)
    cols = {c.name: c for c in columns}
    decoded: list[list[Any]] = []
    for name, values in zip(names, data, strict=True):
        col = cols[name]
        if name == "sync_instance":
            try:
                decoded.append([inst_ids[v] for v in values])
            except (IndexError, TypeError):
                raise FrameError(N_("A frame is corrupt (instance index).")) from None
            continue
        if name in DELTA:
            out, prev = [], 0
            for v in values:
                if not isinstance(v, int) or isinstance(v, bool):
                    raise FrameError(N_("A frame is corrupt (stamps of %(table)s)."),
                                     table=table)
                prev += v
                if not 0 <= prev < 1 << 63:
                    raise FrameError(N_("A frame is corrupt (stamps of %(table)s)."),
                                     table=table)
                out.append(prev)
            decoded.append(out)
            continue
        values = [codec.decode(col, v, table) for v in values]
        if name == "sync_fields" and not all(stamps.well_formed(v) for v in values):
            raise FrameError(N_("A frame is corrupt (field stamps of %(table)s)."), table=table)
        decoded.append(values)
    return [dict(zip(names, row, strict=True)) for row in zip(*decoded, strict=True)] if n else []


__all__ = ["ENVELOPE", "MAX_FRAME_BYTES", "TARGET_BYTES", "Frame", "FrameError", "build",
           "decode", "pack_frame", "peek", "split"]
