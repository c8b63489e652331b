"""A sync round on the wire: a small msgpack header, then frames, both ways.

Request (hub to central)::

    b"ARQ1" | u32 header length | header | frames of the hub's push transfer
    header = {"proto", "schema", "src", "scope", "vec": hub's knowledge,
              "push": {"id", "frames"} | None, "pull": {"id", "next"} | None, "max": bytes}

Response::

    b"ARS1" | u32 header length | header | frames of the central's pull transfer
    header = {"src", "vec": central's knowledge after the push, "acked": {"id", "seq"} | None,
              "pull": {"id", "frames", "from"}, "time": central's clock (ms)}

The server side (`serve_round`) is plain Python: the central's web view authenticates the
hub, then hands it the body.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgpack
from sqlalchemy import Engine

from ardoise.errors import ArdoiseError, Forbidden, Invalid
from ardoise.i18n import N_
from sync import changes, frames, transfer, vectors
from sync import instance as inst
from sync.registry import Registry
from sync.scope import Scope

REQUEST_MAGIC = b"ARQ1"
RESPONSE_MAGIC = b"ARS1"
LENGTH = struct.Struct(">I")
MAX_HEADER = 256 * 1024
MAX_REQUEST = 8 * 1024 * 1024
PUSH_BUDGET = 64 * 1024  # frames per request: a cut re-sends at most this much
PULL_BUDGET = 1024 * 1024  # frames per response


def pack_message(magic: bytes, header: dict[str, Any], body: bytes = b"") -> bytes:
    head = msgpack.packb(header, use_bin_type=True)
    return magic + LENGTH.pack(len(head)) + head + body


def unpack_header(magic: bytes, data: bytes) -> tuple[dict[str, Any], int]:
    """The header of a request or response and where its frames start."""
    if len(data) < 8 or data[:4] != magic:
        raise frames.FrameError(N_("This is not a sync message (bad magic)."))
    (size,) = LENGTH.unpack_from(data, 4)
    if size > MAX_HEADER or 8 + size > len(data):
        raise frames.FrameError(N_("A sync message header is truncated or too large."))
    try:
        header = msgpack.unpackb(data[8:8 + size], raw=False, strict_map_key=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        raise frames.FrameError(N_("A sync message header is unreadable.")) from None
    if not isinstance(header, dict):
        raise frames.FrameError(N_("A sync message header is unreadable."))
    return header, 8 + size


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    if not isinstance(value, bytes) or len(value) != 16:
        raise Invalid(N_("A sync message header is malformed."))
    return uuid.UUID(bytes=value)


def _int(value: Any, default: int = 0) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 31:
        raise Invalid(N_("A sync message header is malformed."))
    return value


@dataclass
class RoundResult:
    header: bytes
    frames: Iterator[bytes]


def serve_round(engine: Engine, registry: Registry, body: bytes, *, peer: uuid.UUID,
                allowed: Scope, clock: inst.Clock = inst.DEFAULT_CLOCK,
                max_ahead_ms: int = transfer.MAX_AHEAD_MS) -> tuple[bytes, list[bytes]]:
    """Apply a hub's push frames and answer with our frames it has not seen.

    Errors (ArdoiseError) name what was wrong; frames applied before a bad one stay
    applied and acknowledged (`acked` in the error details), nothing of the bad one is.
    """
    if len(body) > MAX_REQUEST:
        raise frames.TooLarge(N_("The sync request is too large (%(size)s bytes)."),
                              size=len(body))
    header, start = unpack_header(REQUEST_MAGIC, body)
    if header.get("proto") != transfer.PROTOCOL:
        raise transfer.SchemaMismatch(
            N_("Sync protocol %(got)s is not supported here (this side speaks %(ours)s): "
               "update the older side."), got=str(header.get("proto"))[:20],
            ours=transfer.PROTOCOL)
    if header.get("schema") != registry.schema_version:
        raise transfer.SchemaMismatch(
            N_("The data schema differs between the two sides (%(got)s, here %(ours)s): "
               "update the older side, then sync again."),
            got=str(header.get("schema"))[:20], ours=registry.schema_version)
    if _uuid(header.get("src")) != peer:
        raise Forbidden(N_("This request was prepared by another device."))
    scope_key = header.get("scope")
    scope = Scope.parse(scope_key if isinstance(scope_key, str) else "")
    if not allowed.contains(scope):
        raise transfer.OutOfScope(N_("This device may not sync scope %(scope)s."),
                                  scope=scope.key[:100])
    their = vectors.from_wire(header.get("vec", []))
    acked: dict[str, Any] | None = None
    push = header.get("push")
    if push is not None:
        push_id = _uuid(push.get("id")) if isinstance(push, dict) else None
        for data in frames.split(body[start:]):
            try:
                applied = transfer.apply_frame(engine, registry, data, sender=peer,
                                               allowed=allowed, clock=clock,
                                               max_ahead_ms=max_ahead_ms)
            except ArdoiseError as exc:
                if acked is not None:
                    exc.params["acked"] = acked["seq"]
                raise
            if applied.transfer_id != push_id:
                raise Invalid(N_("A frame belongs to another transfer than announced."))
            acked = {"id": applied.transfer_id.bytes, "seq": applied.seq}
    # Our side: resume the transfer the hub names, or prepare a new one.
    pull = header.get("pull")
    out: transfer.OutTransfer | None = None
    start_seq = 0
    if isinstance(pull, dict):
        pull_id = _uuid(pull.get("id"))
        next_seq = _int(pull.get("next"))
        with engine.begin() as conn:
            if pull_id is not None:
                out = transfer.acknowledge(conn, pull_id, next_seq - 1) if next_seq else (
                    transfer.get_out(conn, pull_id))
        if out is not None and (out.peer != peer or out.finished):
            out = None
        start_seq = next_seq
    with engine.connect() as conn:
        local = inst.current(conn).instance
        vec = vectors.knowledge(conn, local, scope)  # read before looking for rows
        nothing = out is None and not any(
            b.rows for b in _first_rows(changes.unseen(conn, registry, scope, their)))
    pull_head: dict[str, Any] | None = None
    data_out: list[bytes] = []
    if not nothing:
        if out is None:
            out = transfer.prepare(engine, registry, scope, their, peer, clock)
            start_seq = 0
        budget = min(_int(header.get("max"), PULL_BUDGET), PULL_BUDGET) or PULL_BUDGET
        with engine.connect() as conn:
            data_out = list(transfer.out_frames(conn, out.id, start_seq, budget))
        pull_head = {"id": out.id.bytes, "frames": out.frames, "from": start_seq,
                     "rows": out.rows}
    # With nothing to send, "vec" alone tells the hub it has everything we had: the same
    # as a transfer of no rows, without storing one.
    head = {"src": local.bytes, "vec": vectors.to_wire(vec), "acked": acked,
            "pull": pull_head, "time": clock.ms()}
    return pack_message(RESPONSE_MAGIC, head), data_out


def _first_rows(batches: Iterator[changes.Batch]) -> list[changes.Batch]:
    """The first non-empty batch only (then the query stops)."""
    try:
        for batch in batches:
            if batch.rows:
                return [batch]
        return []
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


__all__ = ["PULL_BUDGET", "PUSH_BUDGET", "REQUEST_MAGIC", "RESPONSE_MAGIC", "pack_message",
           "serve_round", "unpack_header"]
