"""Student files: content-addressed blobs sent after the records, in resumable chunks.

Rows name files by SHA-256 (a table's `blob_column`); the bytes live in
data_dir/blobs/<sha256>. After a round, the hub asks the central which of the files its
rows reference it lacks, and how much of each it already holds (a previous cut), then
sends the rest in chunks of at most 64 KB, each acknowledged. The central appends a chunk
only at the offset it holds, checks the hash when the file is whole and only then moves
it into place: a file is never half-present, a duplicate is never sent twice.

A large photo may be sent as a smaller JPEG (`sync.photos`): the central stores that under
its own hash and records an alias (`sync_blob_alias`: the row's hash -> the stored one).
Rows are never rewritten; `held` finds a file in either form. A file that neither side
holds is recorded in `sync_blob_missing` and asked for again after a growing pause (one
hour, doubling up to a day) instead of at every sync.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msgpack
from sqlalchemy import Connection, Engine, delete, select

from ardoise.db import utcnow
from ardoise.errors import Conflict, Invalid, TooLarge
from ardoise.i18n import N_
from sync import instance as inst
from sync.registry import Registry
from sync.scope import Scope
from sync.tables import SyncBlobAlias, SyncBlobMissing, SyncBlobSent

CHUNK = 64 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_BLOB = 2 * 1024 * 1024 * 1024
SENT = SyncBlobSent.__table__
ALIAS = SyncBlobAlias.__table__
MISSING = SyncBlobMissing.__table__
JPEG_MAGIC = b"\xff\xd8\xff"
JPEG = "image/jpeg"
FIRST_PAUSE = dt.timedelta(hours=1)  # a missing file is asked for again after this ...
LONGEST_PAUSE = dt.timedelta(days=1)  # ... doubling up to this


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


# -- files held in another form (aliases) ----------------------------------------------

@dataclass(frozen=True)
class Held:
    """Where the bytes of a file are here: the file itself, or its smaller form."""

    path: Path
    sha256: str  # of the bytes at `path`: the file's own, or the smaller form's
    media_type: str | None = None  # the smaller form's type; None: the file's own


def stored_form(conn: Connection, sha: str) -> tuple[str, str] | None:
    """The hash and type of the smaller form recorded for file `sha`, if any."""
    row = conn.execute(select(ALIAS.c.stored_sha256, ALIAS.c.media_type)
                       .where(ALIAS.c.sha256 == sha)).first()
    if row is None or not SHA256.match(row.stored_sha256):
        return None
    return row.stored_sha256, row.media_type


def held(conn: Connection, data_dir: Path, sha: str) -> Held | None:
    """The file named `sha`, as held here (itself first, else its smaller form)."""
    own = blob_path(data_dir, sha)
    if own.exists():
        return Held(own, sha)
    form = stored_form(conn, sha)
    if form is None:
        return None
    stored = blob_path(data_dir, form[0])
    return Held(stored, form[0], form[1]) if stored.exists() else None


def aliases(conn: Connection) -> dict[str, str]:
    """Every alias: the hash rows name -> the hash of the bytes stored for it."""
    return {sha: stored for sha, stored in conn.execute(
        select(ALIAS.c.sha256, ALIAS.c.stored_sha256))}


def record_alias(conn: Connection, data_dir: Path, sha: str, stored: str) -> None:
    """Remember that file `sha` is held as the JPEG `stored` (already in the blob store).
    Refuses anything but a JPEG: only photos are ever sent in a smaller form."""
    path = blob_path(data_dir, stored)
    with open(path, "rb") as fh:
        if fh.read(3) != JPEG_MAGIC:
            raise Invalid(N_("The smaller form of a photo must be a JPEG image."))
    size = path.stat().st_size
    conn.execute(delete(ALIAS).where(ALIAS.c.sha256 == _check_sha(sha)))
    conn.execute(ALIAS.insert().values(sha256=sha, stored_sha256=stored, media_type=JPEG,
                                       size=size, created_at=utcnow()))


# -- what the hub sends ----------------------------------------------------------------

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

def holdings(conn: Connection, data_dir: Path, shas: list[str],
             sending_as: dict[str, str] | None = None) -> dict[str, int]:
    """For each file: -1 when we have it whole (in either form), else the bytes already
    received of what will be sent (its smaller form when `sending_as` names one)."""
    if not isinstance(shas, list) or len(shas) > 10_000:
        raise Invalid(N_("A list of files in the request is malformed."))
    sending_as = sending_as or {}
    if not isinstance(sending_as, dict) or len(sending_as) > 10_000:
        raise Invalid(N_("A list of files in the request is malformed."))
    out = {}
    for sha in shas:
        if held(conn, data_dir, sha) is not None:
            out[sha] = -1
            continue
        part = _part_path(data_dir, _check_sha(sending_as.get(sha, sha)))
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


class Shrinker(Protocol):
    """Makes the smaller form of a photo (`sync.photos.PhotoShrinker`)."""

    def cached(self, sha: str) -> Any: ...

    def __call__(self, sha: str, original: Path) -> Any: ...

    def forget(self, sha: str) -> None: ...


def upload(engine: Engine, registry: Registry, scope: Scope, data_dir: Path,
           peer: uuid.UUID, post: Post, *, shrink: Shrinker | None = None,
           should_stop: Callable[[], bool] = lambda: False) -> dict[str, int]:
    """Send the files the central lacks; returns counts (files, bytes, skipped, and how
    many went as a smaller photo). With `shrink`, large photos go as a smaller JPEG."""
    pending = to_upload(engine, registry, scope, data_dir, peer)
    stats = {"files": 0, "bytes": 0, "already": 0, "smaller": 0}
    for start in range(0, len(pending), 500):
        batch = pending[start:start + 500]
        # smaller forms made by an earlier, cut attempt: the central may hold part of them
        earlier = {sha: form for sha in batch
                   if shrink is not None and (form := shrink.cached(sha)) is not None}
        status, raw = post("/api/v1/sync/blobs", msgpack.packb(
            {"have": batch, "as": {sha: f.sha256 for sha, f in earlier.items()}}))
        if status != 200:
            raise Conflict(N_("The central refused the list of files: %(reason)s"),
                           reason=_reason(raw))
        held_there = msgpack.unpackb(raw, raw=False).get("held", {})
        done = [s for s in batch if held_there.get(s) == -1]
        stats["already"] += len(done)
        mark_sent(engine, peer, done)
        for sha in done:
            if shrink is not None:
                shrink.forget(sha)
        for sha in batch:
            if held_there.get(sha) == -1:
                continue
            if should_stop():
                return stats
            original = blob_path(data_dir, sha)
            form = shrink(sha, original) if shrink is not None else None
            data = (form.path if form is not None else original).read_bytes()
            offset = int(held_there.get(sha, 0) or 0) if (
                form is None or sha in earlier) else 0
            suffix = f"&as={form.sha256}" if form is not None else ""
            while offset >= 0:
                chunk = data[offset:offset + CHUNK]
                status, raw = post(f"/api/v1/sync/blobs/{sha}?offset={offset}"
                                   f"&size={len(data)}{suffix}", chunk)
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
            if form is not None:
                stats["smaller"] += 1
                shrink.forget(sha)  # type: ignore[union-attr]
    return stats


def missing_here(engine: Engine, registry: Registry, scope: Scope, data_dir: Path
                 ) -> list[str]:
    """Files our rows name that we do not hold (a re-flashed hub, another hub's work)."""
    with engine.connect() as conn:
        shas = set(referenced(conn, registry, scope))
        return sorted(s for s in shas if SHA256.match(s) and held(conn, data_dir, s) is None)


def read_chunk(conn: Connection, data_dir: Path, sha: str, offset: int
               ) -> tuple[bytes, int, str]:
    """A chunk of a file we hold (in either form), the size of what is held and its hash
    (Conflict when we do not hold it)."""
    found = held(conn, data_dir, sha)
    if found is None:
        raise Conflict(N_("This server does not hold that file (yet)."))
    size = found.path.stat().st_size
    if not 0 <= offset <= size:
        raise Invalid(N_("Parameters offset and size are required whole numbers."))
    with open(found.path, "rb") as fh:
        fh.seek(offset)
        return fh.read(CHUNK), size, found.sha256


def next_ask_at(last_asked_at: dt.datetime, asks: int) -> dt.datetime:
    """When a missing file is asked for again: an hour after the first miss, then twice
    as long each time, at most a day (another hub may still send it; or it is lost)."""
    return last_asked_at + min(LONGEST_PAUSE, FIRST_PAUSE * (2 ** min(max(asks - 1, 0), 16)))


def _due(engine: Engine, missing: list[str], now: dt.datetime) -> list[str]:
    """The missing files to ask for now; records of files found since are dropped."""
    with engine.begin() as conn:
        known = {r.sha256: r for r in conn.execute(select(MISSING))}
        still = set(missing)
        found = [sha for sha in known if sha not in still]
        for start in range(0, len(found), 500):
            conn.execute(delete(MISSING).where(MISSING.c.sha256.in_(found[start:start + 500])))
    return [sha for sha in missing if sha not in known
            or next_ask_at(known[sha].last_asked_at, known[sha].asks) <= now]


def _note_missing(engine: Engine, sha: str, now: dt.datetime) -> None:
    with engine.begin() as conn:
        row = conn.execute(select(MISSING.c.asks).where(MISSING.c.sha256 == sha)).first()
        if row is None:
            conn.execute(MISSING.insert().values(sha256=sha, first_missing_at=now,
                                                 last_asked_at=now, asks=1))
        else:
            conn.execute(MISSING.update().where(MISSING.c.sha256 == sha).values(
                last_asked_at=now, asks=row.asks + 1))


def missing_files(conn: Connection) -> list[dict[str, Any]]:
    """Files neither this hub nor its central held when last asked (for the pages), with
    when they are asked for next (`next_ask_at`)."""
    out = []
    for r in conn.execute(select(MISSING).order_by(MISSING.c.first_missing_at,
                                                   MISSING.c.sha256)):
        item = dict(r._mapping)
        item["next_ask_at"] = next_ask_at(r.last_asked_at, r.asks)
        out.append(item)
    return out


def download(engine: Engine, registry: Registry, scope: Scope, data_dir: Path, post: Post,
             *, should_stop: Callable[[], bool] = lambda: False,
             now: dt.datetime | None = None) -> dict[str, int]:
    """Fetch the files our rows name and we lack, resuming partial ones, hash-checked.

    A file the central does not hold either is recorded as missing and asked for again
    only after a pause (`waiting` counts those not asked this time)."""
    now = now or utcnow()
    missing = missing_here(engine, registry, scope, data_dir)
    due = _due(engine, missing, now)
    stats = {"files": 0, "bytes": 0, "unavailable": 0, "waiting": len(missing) - len(due)}
    for sha in due:
        if should_stop():
            break
        part = _part_path(data_dir, sha).with_suffix(".down")
        part.parent.mkdir(parents=True, exist_ok=True)
        offset = part.stat().st_size if part.exists() else 0
        while True:
            status, raw = post(f"/api/v1/sync/blobs/{sha}/read?offset={offset}", b"")
            if status == 409:  # the central does not have it either
                stats["unavailable"] += 1
                _note_missing(engine, sha, now)
                break
            if status != 200:
                raise Conflict(N_("The central refused a file: %(reason)s"),
                               reason=_reason(raw))
            answer = msgpack.unpackb(raw, raw=False)
            chunk, size = answer["data"], int(answer["size"])
            content = answer.get("sha") or sha  # the smaller form, when that is what it holds
            with open(part, "ab") as fh:
                fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            offset += len(chunk)
            stats["bytes"] += len(chunk)
            if offset >= size or not chunk:
                _store_download(engine, data_dir, part, sha, content)
                stats["files"] += 1
                break
    return stats


def _store_download(engine: Engine, data_dir: Path, part: Path, sha: str, content: str
                    ) -> None:
    """Move a whole download into place once its hash is right (an alias for a smaller
    form)."""
    digest = hashlib.sha256(part.read_bytes()).hexdigest()
    if digest != content or not SHA256.match(content):
        part.unlink()
        raise Invalid(N_("The file received does not match its SHA-256: it will be sent "
                         "again."))
    final = blob_path(data_dir, content)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, final)
    if content != sha:
        with engine.begin() as conn:
            record_alias(conn, data_dir, sha, content)
    with engine.begin() as conn:
        conn.execute(delete(MISSING).where(MISSING.c.sha256 == sha))


def _reason(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return raw[:200].decode(errors="replace")


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


def kept_by_aliases(conn: Connection, names: Iterable[str]) -> set[str]:
    """The stored forms of these files (what an orphan collector must keep too)."""
    wanted = set(names)
    return {stored for sha, stored in aliases(conn).items() if sha in wanted}


__all__ = ["CHUNK", "Held", "aliases", "blob_path", "download", "held", "holdings",
           "is_referenced", "kept_by_aliases", "mark_sent", "missing_files", "missing_here",
           "next_ask_at",
           "read_chunk", "receive_chunk", "record_alias", "referenced", "stored_form",
           "to_upload", "upload"]
