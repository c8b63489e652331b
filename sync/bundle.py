"""USB bundles: the same frames as a round, in a file, for schools with no link at all.

File layout: b"ARB1" | u32 header length | msgpack header | frames | optional b"SIG1" and
an Ed25519 signature of everything before it. The header names the sender instance, the
scope, the sender's knowledge (so the receiver learns what to put in its own next
bundle) and, for a hub's bundle, the hub id whose key signed it. A hub's bundles are
signed with the hub's key, the central's with the central's (which hubs learn at
enrollment); each side refuses an unsigned or changed bundle before applying anything.
Frames apply exactly once (the transfer id is in each frame), so importing a bundle
twice is harmless.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from ardoise.errors import Invalid
from ardoise.i18n import N_
from sync import frames, protocol, transfer, vectors
from sync import instance as inst
from sync.merge import MergeStats
from sync.registry import Registry
from sync.scope import Scope

if TYPE_CHECKING:  # cryptography is loaded where keys are used, not here
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MAGIC = b"ARB1"
SIG = b"SIG1"
SUFFIX = ".ardsync"
MAX_BUNDLE = 2 * 1024 * 1024 * 1024


@dataclass
class Imported:
    sender: uuid.UUID
    scope: str
    frames: int
    duplicates: int
    stats: MergeStats


def export(engine: Engine, registry: Registry, folder: Path, scope: Scope,
           peer: uuid.UUID | None, *, key: Ed25519PrivateKey | None = None,
           hub_id: uuid.UUID | None = None, clock: inst.Clock = inst.DEFAULT_CLOCK) -> Path:
    """Write a bundle of everything in `scope` the peer is not known to have."""
    folder = Path(folder)
    if not folder.is_dir():
        raise Invalid(N_("Folder %(path)s does not exist: plug the USB stick in, or give "
                         "another folder."), path=str(folder))
    with engine.connect() as conn:
        local = inst.current(conn).instance
        their = vectors.knowledge(conn, peer, scope) if peer else {}
    out = transfer.prepare(engine, registry, scope, their, None, clock)
    with engine.connect() as conn:
        mine = vectors.knowledge(conn, local, scope)
        body = b"".join(transfer.out_frames(conn, out.id, 0))
    header = {"src": local.bytes, "scope": scope.key, "vec": vectors.to_wire(mine),
              "hub": hub_id.bytes if hub_id else None, "frames": out.frames,
              "signed": key is not None}
    data = protocol.pack_message(MAGIC, header, body)
    if key is not None:
        data += SIG + key.sign(hashlib.sha256(data).digest())
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    path = folder / f"ardoise-{local.hex[:8]}-{stamp}{SUFFIX}"
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def read_header(data: bytes) -> tuple[dict[str, Any], bytes, bytes | None]:
    """Header, frames and signature of a bundle (FrameError when it is not one)."""
    header, start = protocol.unpack_header(MAGIC, data)
    body, signature = data[start:], None
    if header.get("signed"):
        if len(body) < 68 or body[-68:-64] != SIG:
            raise frames.FrameError(N_("This bundle's signature is missing or truncated."))
        body, signature = body[:-68], body[-64:]
    return header, body, signature


Verifier = Callable[[dict[str, Any], bytes, bytes | None], Scope | None]


def import_file(engine: Engine, registry: Registry, path: Path, *,
                verify: Verifier | None = None,
                clock: inst.Clock = inst.DEFAULT_CLOCK) -> Imported:
    """Apply a bundle. `verify(header, signed_part, signature)` authenticates the sender
    and returns the scope it may write (None: whatever the bundle's scope says)."""
    path = Path(path)
    if not path.is_file():
        raise Invalid(N_("File %(path)s does not exist."), path=str(path))
    if path.stat().st_size > MAX_BUNDLE:
        raise frames.TooLarge(N_("File %(path)s is too large to be a bundle."), path=str(path))
    data = path.read_bytes()
    header, body, signature = read_header(data)
    src = header.get("src")
    if not isinstance(src, bytes) or len(src) != 16:
        raise frames.FrameError(N_("This bundle's header is malformed."))
    sender = uuid.UUID(bytes=src)
    scope = Scope.parse(header.get("scope") if isinstance(header.get("scope"), str) else "")
    allowed = None
    if verify is not None:
        signed_part = data[:len(data) - 68] if signature is not None else data
        allowed = verify(header, signed_part, signature)
    chunks = list(frames.split(body))  # whole bundle checked before anything is applied
    for chunk in chunks:
        frames.decode(chunk, registry)
    stats, duplicates = MergeStats(), 0
    for chunk in chunks:
        applied = transfer.apply_frame(engine, registry, chunk, sender=sender,
                                       allowed=allowed, clock=clock)
        duplicates += applied.duplicate
        stats.add(applied.stats)
    with engine.begin() as conn:
        vectors.merge(conn, sender, scope, vectors.from_wire(header.get("vec", [])))
    return Imported(sender, scope.key, len(chunks), duplicates, stats)


__all__ = ["SUFFIX", "Imported", "export", "import_file", "read_header"]
