"""Student files on disk: content-addressed, written so a power cut never leaves half a file.

An upload is streamed into `staging/uploads/` while its SHA-256 is computed, checked
(type from its first bytes, size limit), fsynced, then renamed into `blobs/<sha256>` and
the folder fsynced. Only then are the database rows committed, so a row never points at
a missing or partial file. A crash between the rename and the commit leaves an orphan
blob, which is harmless: `collect_orphans` removes blobs older than an hour that no
`SubmissionFile` references (and stale staging files).

Identical files are stored once. Reusing an existing blob refreshes its modification time,
so the collector, which only takes blobs older than an hour, leaves it alone while the
new reference is being committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.errors import Invalid, StorageFull, TooLarge
from ardoise.i18n import N_
from hub.classwork.filetypes import SNIFF_BYTES, FileType, require_accepted, safe_filename
from hub.models import SubmissionFile
from sync.blobs import kept_by_aliases

CHUNK = 64 * 1024
GC_MIN_AGE = dt.timedelta(hours=1)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FULL = (errno.ENOSPC, errno.EDQUOT)


def _storage_full() -> StorageFull:
    return StorageFull(N_("The hub's storage is full, so this work was not saved. Tell your "
                          "teacher."))


@contextlib.contextmanager
def _disk_errors() -> Iterator[None]:
    """A full disk (or quota) becomes StorageFull (507); other OS errors pass through."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise _storage_full() from exc
        raise


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class StagedBlob:
    """A checked upload, fsynced in staging, not yet in the store."""

    sha256: str
    size: int
    file_type: FileType
    filename: str
    temp_path: Path | None


class BlobStore:
    """The folder of content-addressed blobs and its staging area (same filesystem)."""

    def __init__(self, blobs_dir: Path, staging_dir: Path) -> None:
        self.blobs_dir = Path(blobs_dir)
        self.staging_dir = Path(staging_dir)

    @classmethod
    def in_data_dir(cls, data_dir: Path | str) -> BlobStore:
        data = Path(data_dir)
        return cls(data / "blobs", data / "staging" / "uploads")

    def path(self, sha256: str) -> Path:
        """Where the blob with this hash lives (the hash is checked: no path tricks)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.blobs_dir / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    @contextlib.contextmanager
    def batch(self) -> Iterator[Batch]:
        """Stage several files, then `publish()` them; staged files left over are removed
        on the way out, whatever happened."""
        batch = Batch(self)
        try:
            yield batch
        finally:
            batch.discard()

    def collect_garbage(self, referenced: Collection[str], *, max_age: dt.timedelta = GC_MIN_AGE,
                        now: float | None = None) -> list[str]:
        """Remove blobs older than `max_age` whose hash is not in `referenced`, and staging
        files older than `max_age` (left by a crash mid-upload). Returns the removed names."""
        cutoff = (time.time() if now is None else now) - max_age.total_seconds()
        removed: list[str] = []
        for folder, keep in ((self.blobs_dir, referenced), (self.staging_dir, ())):
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                if not entry.is_file(follow_symlinks=False) or entry.name in keep:
                    continue
                if folder is self.blobs_dir and not _SHA256.fullmatch(entry.name):
                    continue  # not ours: leave it
                if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
        return sorted(removed)


@dataclass
class Batch:
    """Uploads of one hand-in: all staged first, then published together."""

    store: BlobStore
    staged: list[StagedBlob] = field(default_factory=list)
    _temps: list[Path] = field(default_factory=list)  # in staging, not yet published

    def add(self, stream: BinaryIO, filename: str | None, max_bytes: int) -> StagedBlob:
        """Stream one upload into staging, refusing it early if its type or size is wrong."""
        shown = (filename or "").strip() or "?"
        with _disk_errors():
            self.store.staging_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.store.staging_dir, prefix="upload-",
                                        suffix=".part")
        temp = Path(name)
        self._temps.append(temp)
        digest = hashlib.sha256()
        size = 0
        try:
            head = _read_head(stream)
            if not head:
                raise Invalid(N_("%(name)s is empty: choose the file again."), name=shown,
                              field="files")
            kind = require_accepted(head, shown)
            chunk = head
            with _disk_errors():
                while chunk:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(N_("%(name)s is too large: the limit is %(limit_mb)s MB "
                                          "per file."), name=shown,
                                       limit_mb=max_bytes // (1024 * 1024), field="files")
                    digest.update(chunk)
                    _write_all(fd, chunk)
                    chunk = stream.read(CHUNK)
                os.fsync(fd)
        finally:
            os.close(fd)
        blob = StagedBlob(digest.hexdigest(), size, kind, safe_filename(filename, kind), temp)
        self.staged.append(blob)
        return blob

    def publish(self) -> None:
        """Move every staged file into the store (or reuse the identical blob already
        there), then make the renames durable."""
        if not self.staged:
            return
        with _disk_errors():
            self.store.blobs_dir.mkdir(parents=True, exist_ok=True)
            for blob in self.staged:
                if blob.temp_path is None:
                    continue  # already published
                final = self.store.path(blob.sha256)
                if final.is_file():
                    os.utime(final)  # young again: the collector leaves it alone
                    blob.temp_path.unlink()
                else:
                    os.replace(blob.temp_path, final)
                self._temps.remove(blob.temp_path)
                blob.temp_path = None
            _fsync_dir(self.store.blobs_dir)

    def discard(self) -> None:
        """Remove staged files not yet published (after an error, or when abandoned)."""
        while self._temps:
            self._temps.pop().unlink(missing_ok=True)
        for blob in self.staged:
            blob.temp_path = None


def _read_head(stream: BinaryIO) -> bytes:
    """At least SNIFF_BYTES (or the whole file if shorter): streams may return short reads."""
    head = b""
    while len(head) < SNIFF_BYTES:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        head += chunk
    return head


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def collect_orphans(s: Session, store: BlobStore, *, max_age: dt.timedelta = GC_MIN_AGE,
                    now: float | None = None) -> list[str]:
    """Remove blobs no SubmissionFile references (older than `max_age`) and stale staging
    files. Safe to run at any time, e.g. nightly by the agent or `ardoise classwork gc`.

    A photo held only as the smaller JPEG the sync made of it (an alias, see sync.blobs)
    is kept under that JPEG's name: the alias counts as a reference."""
    referenced = set(s.scalars(select(SubmissionFile.sha256).distinct()))
    referenced |= kept_by_aliases(s.connection(), referenced)
    return store.collect_garbage(referenced, max_age=max_age, now=now)
