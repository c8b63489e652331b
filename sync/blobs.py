"""Student files: content-addressed blobs sent after the records, in resumable chunks.

Rows name files by SHA-256 (a table's `blob_column`); the bytes live in
data_dir/blobs/<sha256>. After a round, the hub asks the central which of the files its
rows reference it lacks, and how much of each it already holds (a previous cut), then
sends the rest in chunks of at most 64 KB, each acknowledged. The central appends a chunk
only at the offset it holds, checks the hash when the file is whole and only then moves
it into place: a file is never half-present, a duplicate is never sent twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import msgpack
from sqlalchemy import Connection, Engine, select

from ardoise.errors import Conflict, Invalid, TooLarge
from ardoise.i18n import N_
from sync import instance as inst
from sync.registry import Registry
from sync.scope import Scope
from sync.tables import SyncBlobSent

CHUNK = 64 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_BLOB = 2 * 1024 * 1024 * 1024
SENT = SyncBlobSent.__table__


def _check_sha(sha: str) -> str:
    if not isinstance(sha, str) or not SHA256.match(sha):
        raise Invalid(N_("%(value)s is not a SHA-256 file name."), value=str(sha)[:80])
    return sha


def blob_path(data_dir: Path, sha: str) -> Path:
    return Path(data_dir) / "blobs" / _check_sha(sha)


def _part_path(data_dir: Path, sha: str) -> Path:
    return Path(data_dir) / "staging" / "sync-blobs" / f"{_check_sha(sha)}.part"


def referenced(conn: Connection, registry: Registry, scope: Scope) -> Iterator[str]:
    """SHA-256 of every file the rows of `scope` refer to (live rows only)."""
    for rule in registry:
        if rule.blob_column is None:
            continue
        t = rule.table
        col = t.c[rule.blob_column]
        yield from conn.execute(select(col).distinct().where(
            scope.where(rule), t.c.deleted.is_(False), col.is_not(None))).scalars()


def to_upload(engine: Engine, registry: Registry, scope: Scope, data_dir: Path,
              peer: uuid.UUID) -> list[str]:
    """Files we hold that the peer has not confirmed yet."""
    with engine.connect() as conn:
        shas = set(referenced(conn, registry, scope))
        done = set(conn.execute(select(SENT.c.sha256).where(SENT.c.peer == peer)).scalars())
    return sorted(s for s in shas - done if SHA256.match(s) and blob_path(data_dir, s).exists())


def mark_sent(engine: Engine, peer: uuid.UUID, shas: list[str]) -> None:
    with engine.begin() as conn:
        inst.insert_ignore(conn, SENT, [{"sha256": s, "peer": peer} for s in shas],
                           ["sha256", "peer"])


# -- the receiving side (central) ------------------------------------------------------

def holdings(data_dir: Path, shas: list[str]) -> dict[str, int]:
    """For each file: -1 when we have it whole, else the bytes already received."""
    if not isinstance(shas, list) or len(shas) > 10_000:
        raise Invalid(N_("A list of files in the request is malformed."))
    out = {}
    for sha in shas:
        if blob_path(data_dir, sha).exists():
            out[sha] = -1
        else:
            part = _part_path(data_dir, sha)
            out[sha] = part.stat().st_size if part.exists() else 0
    return out


def receive_chunk(data_dir: Path, sha: str, offset: int, total: int, chunk: bytes) -> int:
    """Append a chunk at `offset`; returns the new offset (-1 once the file is whole)."""
    final = blob_path(data_dir, sha)
    if final.exists():
        return -1
    if not 0 < total <= MAX_BLOB or len(chunk) > CHUNK or offset + len(chunk) > total:
        raise TooLarge(N_("A file chunk is too large or beyond the file's size."))
    part = _part_path(data_dir, sha)
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if offset != have:
        raise Conflict(N_("This chunk starts at byte %(offset)s but %(have)s bytes are "
                          "held: resume from there."), offset=offset, have=have)
    with open(part, "ab") as fh:
        fh.write(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    have += len(chunk)
    if have < total:
        return have
    digest = hashlib.sha256()
    with open(part, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha:
        part.unlink()
        raise Invalid(N_("The file received does not match its SHA-256: it will be sent "
                         "again."))
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, final)
    return -1


# -- the sending side (hub) ------------------------------------------------------------

Post = Callable[[str, bytes], tuple[int, bytes]]


def upload(engine: Engine, registry: Registry, scope: Scope, data_dir: Path,
           peer: uuid.UUID, post: Post, *, transform: Callable[[str, Path], bytes] | None = None,
           should_stop: Callable[[], bool] = lambda: False) -> dict[str, int]:
    """Send the files the central lacks; returns counts (files, bytes, skipped)."""
    pending = to_upload(engine, registry, scope, data_dir, peer)
    stats = {"files": 0, "bytes": 0, "already": 0}
    for start in range(0, len(pending), 500):
        batch = pending[start:start + 500]
        status, raw = post("/api/v1/sync/blobs", msgpack.packb({"have": batch}))
        if status != 200:
            raise Conflict(N_("The central refused the list of files: %(reason)s"),
                           reason=_reason(raw))
        held = msgpack.unpackb(raw, raw=False).get("held", {})
        done = [s for s in batch if held.get(s) == -1]
        stats["already"] += len(done)
        mark_sent(engine, peer, done)
        for sha in batch:
            if held.get(sha) == -1:
                continue
            if should_stop():
                return stats
            data = blob_path(data_dir, sha).read_bytes()
            offset = int(held.get(sha, 0) or 0)
            while offset >= 0:
                chunk = data[offset:offset + CHUNK]
                status, raw = post(f"/api/v1/sync/blobs/{sha}?offset={offset}&size={len(data)}",
                                   chunk)
                if status == 409:  # the central holds another amount: resume from it
                    offset = int(json.loads(raw)["error"]["details"].get("have", 0))
                    continue
                if status != 200:
                    raise Conflict(N_("The central refused a file: %(reason)s"),
                                   reason=_reason(raw))
                stats["bytes"] += len(chunk)
                offset = int(msgpack.unpackb(raw, raw=False)["offset"])
            mark_sent(engine, peer, [sha])
            stats["files"] += 1
    return stats


def missing_here(engine: Engine, registry: Registry, scope: Scope, data_dir: Path
                 ) -> list[str]:
    """Files our rows name that we do not hold (a re-flashed hub, another hub's work)."""
    with engine.connect() as conn:
        shas = set(referenced(conn, registry, scope))
    return sorted(s for s in shas if SHA256.match(s) and not blob_path(data_dir, s).exists())


def read_chunk(data_dir: Path, sha: str, offset: int) -> tuple[bytes, int]:
    """A chunk of a file we hold, and the file's size (NotFound-like Invalid if absent)."""
    path = blob_path(data_dir, sha)
    if not path.exists():
        raise Conflict(N_("This server does not hold that file (yet)."))
    size = path.stat().st_size
    if not 0 <= offset <= size:
        raise Invalid(N_("Parameters offset and size are required whole numbers."))
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(CHUNK), size


def download(engine: Engine, registry: Registry, scope: Scope, data_dir: Path, post: Post,
             *, should_stop: Callable[[], bool] = lambda: False) -> dict[str, int]:
    """Fetch the files our rows name and we lack, resuming partial ones, hash-checked."""
    stats = {"files": 0, "bytes": 0, "unavailable": 0}
    for sha in missing_here(engine, registry, scope, data_dir):
        if should_stop():
            break
        part = _part_path(data_dir, sha).with_suffix(".down")
        part.parent.mkdir(parents=True, exist_ok=True)
        offset = part.stat().st_size if part.exists() else 0
        while True:
            status, raw = post(f"/api/v1/sync/blobs/{sha}/read?offset={offset}", b"")
            if status == 409:  # the central does not have it (yet): next time
                stats["unavailable"] += 1
                break
            if status != 200:
                raise Conflict(N_("The central refused a file: %(reason)s"),
                               reason=_reason(raw))
            answer = msgpack.unpackb(raw, raw=False)
            chunk, size = answer["data"], int(answer["size"])
            with open(part, "ab") as fh:
                fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            offset += len(chunk)
            stats["bytes"] += len(chunk)
            if offset >= size or not chunk:
                digest = hashlib.sha256(part.read_bytes()).hexdigest()
                if digest != sha:
                    part.unlink()
                    raise Invalid(N_("The file received does not match its SHA-256: it will "
                                     "be sent again."))
                final = blob_path(data_dir, sha)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(part, final)
                stats["files"] += 1
                break
    return stats


def _reason(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return raw[:200].decode(errors="replace")


__all__ = ["CHUNK", "blob_path", "download", "holdings", "mark_sent", "missing_here",
           "read_chunk", "receive_chunk", "referenced", "to_upload", "upload"]


def is_referenced(conn: Connection, registry: Registry, scope: Scope, sha: str) -> bool:
    """Whether a live row of `scope` names this file (a hub may send only those)."""
    for rule in registry:
        if rule.blob_column is None:
            continue
        t = rule.table
        if conn.execute(select(t.c.id).where(scope.where(rule), t.c.deleted.is_(False),
                                             t.c[rule.blob_column] == sha).limit(1)).first():
            return True
    return False
