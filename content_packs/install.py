"""Installing a pack: verify everything, then switch it in atomically.

The order matters on a Pi that can lose power at any moment:
1. read the manifest (its exact bytes, once) and check its signature against the trusted
   publisher keys, then check the folder against it (missing or extra files, sizes, links
   leaving the pack) before writing anything;
2. fill data_dir/staging/<tmp>/: copy from a folder (hashing what is read, keeping the
   files' times so a later rsync recognises unchanged files), or let a transport (rsync)
   download there; fsync every file and folder and verify every hash from the copy;
3. rename the staging folder to data_dir/packs/<id>/<version>/ (atomic on one file system);
4. in ONE database transaction: the previous version inactive, the new one active, its
   resources (same uids as before), files and search index;
5. point data_dir/packs/<id>/current at the version (a symlink replaced atomically), which
   is what nginx serves; older versions but the previous one are removed.
A failure before 4 leaves the database untouched and removes what was staged. A cut at
any moment leaves the database naming a complete version; `recover` (run before every
install, pull and by the agent) then removes leftovers, repoints `current`, and moves a
complete folder the database never heard of (a cut between 3 and 4) back to staging so
the next pull of that version finds its files there.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from ardoise.errors import Conflict, NotFound, StorageFull
from ardoise.i18n import N_
from content_packs import search
from content_packs.catalog import InstalledPack, Resource, ResourceFile
from content_packs.errors import FileDamaged, PackRefused
from content_packs.manifest import (
    HASH_CHUNK,
    MANIFEST_NAME,
    PACK_METADATA_FILES,
    SIGNATURE_NAME,
    Manifest,
    PackFile,
    is_newer,
    parse_manifest,
    parse_manifest_bytes,
    read_manifest_bytes,
)
from content_packs.paths import CURRENT_LINK, is_within, pack_root, packs_root, staging_root
from content_packs.signing import Trust

Progress = Callable[[int], None]
# Installed files are read by the web process and by nginx: world-readable, never writable.
FILE_MODE = 0o644
DIR_MODE = 0o755
# Room kept free on the data partition beyond the pack itself (the database must grow).
FREE_SPACE_MARGIN = 64 * 1024 * 1024


def _shown(path: str) -> str:
    """A file name as read from disk, printable even when it is not valid UTF-8."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def install_work(manifest: Manifest) -> int:
    """Units of work `install_pack` reports through `progress` (bytes copied + verified)."""
    return 2 * manifest.total_bytes


def check_folder(folder: Path, manifest: Manifest) -> None:
    """Refuse a folder whose files do not match the manifest, before anything is copied:
    a link leaving the pack or pointing at a folder, a listed file missing or of the wrong
    size, anything but a regular file, a file not listed. One walk of the folder (no path
    resolved unless it is a link), so packs of thousands of files are checked quickly."""
    pack = manifest.id
    base = os.fspath(folder)
    found: dict[str, os.stat_result] = {}
    for root, dirs, names in os.walk(base):
        rel_root = os.path.relpath(root, base)
        prefix = "" if rel_root == "." else rel_root.replace(os.sep, "/") + "/"
        for name in sorted(dirs) + sorted(names):
            full = os.path.join(root, name)
            rel = prefix + name
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                if not is_within(folder, Path(full)):
                    raise PackRefused(N_("Pack %(pack)s: %(file)s is a link that points "
                                         "outside the pack. It was refused."),
                                      pack=pack, file=_shown(rel))
                if os.path.isdir(full):
                    raise PackRefused(N_("Pack %(pack)s: %(file)s is a link to a folder; a "
                                         "pack must hold real folders and files."),
                                      pack=pack, file=_shown(rel))
                st = os.stat(full)
            if name not in dirs:
                found[rel] = st
    for f in manifest.files:
        st = found.get(f.path)
        if st is None:
            raise PackRefused(N_("Pack %(pack)s: file %(file)s, listed in the manifest, is "
                                 "missing."), hint=N_("Copy the whole pack again."),
                              pack=pack, file=f.path)
        if not stat.S_ISREG(st.st_mode):
            raise PackRefused(N_("Pack %(pack)s: %(file)s is not a regular file."),
                              pack=pack, file=f.path)
        if st.st_size != f.size:
            raise PackRefused(N_("Pack %(pack)s: file %(file)s has %(actual)s bytes but the "
                                 "manifest says %(expected)s."),
                              hint=N_("The copy may be incomplete: copy the pack again."),
                              pack=pack, file=f.path, actual=st.st_size, expected=f.size)
    listed = {f.path for f in manifest.files} | PACK_METADATA_FILES
    for rel in sorted(found):
        if rel not in listed:
            raise PackRefused(N_("Pack %(pack)s: file %(file)s is not listed in the "
                                 "manifest."),
                              hint=N_("Remove it from the folder, or rebuild the pack."),
                              pack=pack, file=_shown(rel))


def _mismatch(pack: str, path: str) -> FileDamaged:
    return FileDamaged(N_("Pack %(pack)s: file %(file)s is damaged or was altered: its "
                          "SHA-256 does not match the manifest."),
                       hint=N_("Copy the pack again from its source."), pack=pack, file=path)


def _syncfs(path: Path) -> bool:
    """Flush every written file of the file system holding `path` to the card, in one
    call (Linux syncfs): thousands of small files cost one flush, not one each. False
    where syncfs is missing (the caller then fsyncs file by file)."""
    libc = _libc()
    if libc is None:
        return False
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return bool(libc.syncfs(fd) == 0)
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _ = libc.syncfs
    except (OSError, AttributeError):
        return None
    return libc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_verified(src: Path, dst: Path, f: PackFile, pack: str,
                   progress: Progress | None, fsync: bool = False) -> None:
    """Copy src to dst hashing what is read; keep src's modification time (so that a
    later rsync pull sees the file unchanged). Memory stays at one chunk. The caller
    flushes the whole stage to the card at once (`_syncfs`), or asks for `fsync`."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # readable by the web server whatever the umask
    with open(src, "rb") as fin, open(fd, "wb") as fout:
        while chunk := fin.read(HASH_CHUNK):
            size += len(chunk)
            if size > f.size:
                break
            digest.update(chunk)
            fout.write(chunk)
            if progress is not None:
                progress(len(chunk))
        fout.flush()
        src_stat = os.fstat(fin.fileno())
        os.utime(fout.fileno(), ns=(src_stat.st_atime_ns, src_stat.st_mtime_ns))
        if fsync:
            os.fsync(fout.fileno())
    if size != f.size:
        raise PackRefused(N_("Pack %(pack)s: file %(file)s changed size while it was being "
                             "copied."), pack=pack, file=f.path)
    if digest.hexdigest() != f.sha256:
        raise _mismatch(pack, f.path)


def verify_tree(root: Path, manifest: Manifest, progress: Progress | None = None, *,
                fsync: bool = False) -> None:
    """Hash every file of the manifest under `root` (in chunks) and refuse on the first
    mismatch. With `fsync`, each file is also flushed to the card (a transport such as
    rsync wrote it without)."""
    for f in manifest.files:
        full = root / f.path
        digest = hashlib.sha256()
        try:
            fh = open(full, "rb")  # noqa: SIM115 (closed below; the loop reads in chunks)
        except (FileNotFoundError, NotADirectoryError):
            raise PackRefused(N_("Pack %(pack)s: file %(file)s, listed in the manifest, is "
                                 "missing."), hint=N_("Copy the whole pack again."),
                              pack=manifest.id, file=f.path) from None
        with fh:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)
                if progress is not None:
                    progress(len(chunk))
            if fsync:
                os.fsync(fh.fileno())
        if digest.hexdigest() != f.sha256:
            raise _mismatch(manifest.id, f.path)


@contextlib.contextmanager
def install_lock(data_dir: Path) -> Iterator[None]:
    """One install at a time per data folder (the CLI, the web and the agent may all try):
    an advisory lock on the folder itself, so no lock file is left behind."""
    fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


_install_lock = install_lock


def _discard(path: Path, data_dir: Path) -> None:
    """Remove a folder by first renaming it into staging (so a cut never leaves a
    half-deleted version where a reader looks), then deleting it."""
    if not path.exists() and not path.is_symlink():
        return
    staging = staging_root(data_dir)
    staging.mkdir(parents=True, exist_ok=True)
    trash = Path(tempfile.mkdtemp(prefix="discard-", dir=staging))
    os.rename(path, trash / "old")
    shutil.rmtree(trash, ignore_errors=True)


def _remove_if_empty(*folders: Path) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _point_current(data_dir: Path, pack_id: str, version: str | None) -> None:
    """Make packs/<id>/current name `version` (or disappear), replacing it atomically."""
    base = packs_root(data_dir) / pack_id
    link = base / CURRENT_LINK
    if version is None:
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        return
    tmp = base / f".{CURRENT_LINK}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(version, tmp)
    os.replace(tmp, link)
    _fsync_dir(base)


def link_active_versions(session: Session, data_dir: Path) -> None:
    """Repoint every pack's `current` link at the version the database says is active
    (after a cut between the database commit and the link switch)."""
    for pack in session.scalars(select(InstalledPack).where(InstalledPack.active.is_(True))):
        link = packs_root(data_dir) / pack.pack_id / CURRENT_LINK
        if (pack_root(data_dir, pack.pack_id, pack.version).is_dir()
                and (not link.is_symlink() or os.readlink(link) != pack.version)):
            _point_current(data_dir, pack.pack_id, pack.version)


# -- leftovers of a cut ------------------------------------------------------------------

PULL_PREFIX = "pull-"
_PULL_DIR = re.compile(r"^pull-([a-z0-9-]+)@(.+)$")


def pull_dir_name(pack_id: str, version: str) -> str:
    """The staging folder a pull of this version downloads into; kept across cuts so the
    next attempt resumes there."""
    return f"{PULL_PREFIX}{pack_id}@{version}"


@contextlib.contextmanager
def _try_lock(path: Path) -> Iterator[bool]:
    """A non-blocking lock on a folder: False when another process holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _active_versions(session: Session) -> dict[str, str]:
    rows = session.execute(select(InstalledPack.pack_id, InstalledPack.version).where(
        InstalledPack.active.is_(True)))
    return {pack_id: version for pack_id, version in rows}


def _recover_locked(session: Session, data_dir: Path) -> list[str]:
    done: list[str] = []
    staging = staging_root(data_dir)
    known = {(p, v) for p, v in session.execute(
        select(InstalledPack.pack_id, InstalledPack.version))}
    active = _active_versions(session)
    root = packs_root(data_dir)
    # A complete version the database never heard of (a cut between rename and commit), or
    # an old version whose rows were removed but not yet its folder.
    if root.is_dir():
        for pack_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
            for version_dir in sorted(pack_dir.iterdir()):
                if version_dir.name.startswith(".") and version_dir.is_symlink():
                    version_dir.unlink()  # a `current` link being replaced at the cut
                    continue
                if (version_dir.is_symlink() or not version_dir.is_dir()
                        or (pack_dir.name, version_dir.name) in known):
                    continue
                target = staging / pull_dir_name(pack_dir.name, version_dir.name)
                if (is_newer(version_dir.name, active.get(pack_dir.name))
                        and not target.exists()):
                    staging.mkdir(parents=True, exist_ok=True)
                    os.rename(version_dir, target)
                    done.append(f"kept {pack_dir.name} {version_dir.name} for the next pull")
                else:
                    _discard(version_dir, data_dir)
                    done.append(f"removed {pack_dir.name} {version_dir.name}")
            if pack_dir.name not in active:
                with contextlib.suppress(FileNotFoundError):
                    (pack_dir / CURRENT_LINK).unlink()
                _remove_if_empty(pack_dir)
    if staging.is_dir():
        for entry in sorted(staging.iterdir()):
            match = _PULL_DIR.match(entry.name)
            if match and entry.is_dir() and not entry.is_symlink():
                pack_id, version = match.groups()
                if (pack_id, version) not in known and is_newer(version, active.get(pack_id)):
                    continue  # a download to resume
                with _try_lock(entry) as free:
                    if not free:
                        continue  # being downloaded right now
                    shutil.rmtree(entry, ignore_errors=True)
                    done.append(f"removed staging/{entry.name}")
                continue
            if entry.is_dir() and not entry.is_symlink():
                with _try_lock(entry) as free:
                    if not free:
                        continue
                    shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            done.append(f"removed staging/{entry.name}")
    link_active_versions(session, data_dir)
    return done


def recover(session: Session, data_dir: Path) -> list[str]:
    """Clean up after a cut at any moment of an install or a pull; returns what was done.

    Removes half-made staging folders (but keeps a download to resume), repoints every
    `current` link at the active version, and moves a complete version folder the
    database does not know back to staging, where the next pull verifies it again."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return []
    with install_lock(data_dir):
        session.commit()
        return _recover_locked(session, data_dir)


# -- the catalogue -----------------------------------------------------------------------

def _resource_rows(manifest: Manifest) -> list[dict[str, object]]:
    rows = []
    for position, spec in enumerate(manifest.resources):
        entry = manifest.file(spec.entry)
        assert entry is not None  # the manifest checks entries are listed files
        rows.append({
            "uid": f"{manifest.id}/{spec.id}", "pack_id": manifest.id,
            "pack_version": manifest.version, "kind": spec.kind, "entry": spec.entry,
            "media_type": entry.media_type, "title_fr": spec.title.fr,
            "title_en": spec.title.en, "description_fr": spec.description.fr,
            "description_en": spec.description.en, "language": spec.language,
            "subjects": " ".join(spec.subjects), "cycles": " ".join(spec.cycles),
            "duration_seconds": spec.duration, "position": position, "search_title": "",
            "search_text": ""})
    return rows


def _activate(session: Session, manifest: Manifest, docs: list[search.SearchDoc]) -> None:
    """Make `manifest`'s version the active one: its resources and index (no commit)."""
    pid = manifest.id
    session.execute(update(InstalledPack).where(InstalledPack.pack_id == pid)
                    .values(active=False))
    session.execute(update(InstalledPack).where(
        InstalledPack.pack_id == pid, InstalledPack.version == manifest.version)
        .values(active=True))
    session.execute(delete(Resource).where(Resource.pack_id == pid))
    # Core inserts (one executemany): thousands of resources in a fraction of a second.
    session.execute(insert(Resource.__table__), _resource_rows(manifest))
    search.index_pack(session, pid, docs)


def _record(session: Session, manifest: Manifest, docs: list[search.SearchDoc],
            raw: bytes | None = None) -> tuple[InstalledPack, list[str]]:
    """Write the catalogue for the new version (no commit). Returns the row and the
    versions to remove from disk (all but the new one and the one it replaces)."""
    pid = manifest.id
    previous = session.scalars(select(InstalledPack.version).where(
        InstalledPack.pack_id == pid, InstalledPack.active.is_(True))).first()
    pack = InstalledPack(
        pack_id=pid, version=manifest.version, active=False, title_fr=manifest.title.fr,
        title_en=manifest.title.en, language=manifest.language, licence=manifest.licence,
        publisher=manifest.publisher, file_count=len(manifest.files),
        total_bytes=manifest.total_bytes,
        manifest_json=raw.decode("utf-8-sig") if raw is not None else manifest.to_json())
    session.add(pack)
    session.flush()
    session.execute(insert(ResourceFile.__table__), [
        {"pack_id": pid, "version": manifest.version, "path": f.path, "sha256": f.sha256,
         "size": f.size, "media_type": f.media_type} for f in manifest.files])
    _activate(session, manifest, docs)
    keep = {manifest.version, previous}
    stale = [v for v in session.scalars(select(InstalledPack.version).where(
        InstalledPack.pack_id == pid)) if v not in keep]
    _forget_versions(session, pid, stale)
    session.refresh(pack)
    return pack, stale


def _forget_versions(session: Session, pack_id: str, versions: list[str]) -> None:
    if versions:
        session.execute(delete(ResourceFile).where(ResourceFile.pack_id == pack_id,
                                                   ResourceFile.version.in_(versions)))
        session.execute(delete(InstalledPack).where(InstalledPack.pack_id == pack_id,
                                                    InstalledPack.version.in_(versions)))


# -- room on the card --------------------------------------------------------------------

MB = 1024 * 1024


def _free_bytes(data_dir: Path) -> int:
    return shutil.disk_usage(data_dir).free


def _make_room(session: Session, data_dir: Path, needed: int, keep: str) -> None:
    """Remove versions kept only for a rollback (never an active one, never pack `keep`),
    largest first, until `needed` bytes are free. Called with the install lock held."""
    while _free_bytes(data_dir) < needed:
        spare = session.scalars(select(InstalledPack).where(
            InstalledPack.active.is_(False), InstalledPack.pack_id != keep)
            .order_by(InstalledPack.total_bytes.desc())).first()
        if spare is None:
            return
        pack_id, version = spare.pack_id, spare.version
        _forget_versions(session, pack_id, [version])
        session.commit()
        _discard(pack_root(data_dir, pack_id, version), data_dir)


def check_space(session: Session, data_dir: Path, manifest: Manifest,
                already: int = 0) -> None:
    """Refuse early, with the sizes, when the data partition cannot hold the pack (minus
    the `already` downloaded bytes) and a margin for the database. Versions kept only for
    a rollback are removed first when that makes enough room."""
    needed = max(0, manifest.total_bytes - already) + FREE_SPACE_MARGIN
    if _free_bytes(data_dir) < needed:
        _make_room(session, data_dir, needed, keep=manifest.id)
    free = _free_bytes(data_dir)
    if free < needed:
        raise StorageFull(N_("Not enough free space for pack %(pack)s: %(needed)s MB needed "
                             "(%(size)s MB of files and %(margin)s MB kept free), %(free)s MB "
                             "free."),
                          hint=N_("Remove a pack you no longer use with 'ardoise pack "
                                  "remove'."), pack=manifest.id, needed=-(-needed // MB),
                          size=-(-max(0, manifest.total_bytes - already) // MB),
                          margin=FREE_SPACE_MARGIN // MB, free=free // MB)


def _already_installed(session: Session, manifest: Manifest) -> Conflict | None:
    row = session.get(InstalledPack, (manifest.id, manifest.version))
    if row is None:
        return None
    return Conflict(N_("Pack %(pack)s version %(version)s is already installed."),
                    pack=manifest.id, version=manifest.version)


def check_dependencies(session: Session, manifest: Manifest) -> None:
    """Refuse a pack whose required packs are not installed at the version it needs."""
    active = _active_versions(session)
    for dep in manifest.requires:
        have = active.get(dep.id)
        if have is None or (dep.min_version and is_newer(dep.min_version, have)):
            raise PackRefused(N_("Pack %(pack)s needs pack %(dependency)s (version %(version)s "
                                 "or later), which is not installed."),
                              hint=N_("Install that pack first."), pack=manifest.id,
                              dependency=dep.id, version=dep.min_version or "1")


def read_signature(folder: Path) -> bytes | None:
    """The bytes of `folder/manifest.sig`, None when there is none; a link or a folder
    there is refused."""
    path = Path(folder) / SIGNATURE_NAME
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise PackRefused(N_("Pack %(pack)s: %(file)s is not a regular file."),
                          pack=Path(folder).name, file=SIGNATURE_NAME)
    with open(path, "rb") as fh:
        return fh.read(64 * 1024)


def check_installable(session: Session, folder: Path, trust: Trust | None = None
                      ) -> Manifest:
    """Read the manifest of `folder`, check its signature (with `trust`), the folder
    against it, its dependencies and that this version is not installed yet; writes
    nothing. `install_pack` does the same first; the CLI calls it to refuse before showing
    a progress bar."""
    folder = Path(folder)
    raw, manifest = read_manifest_bytes(folder)
    if trust is not None:
        trust.check(manifest.id, raw, read_signature(folder))
    check_folder(folder, manifest)
    if (conflict := _already_installed(session, manifest)) is not None:
        raise conflict
    check_dependencies(session, manifest)
    return manifest


def _write_metadata(stage: Path, raw: bytes, signature: bytes | None) -> None:
    for name, data in ((MANIFEST_NAME, raw), (SIGNATURE_NAME, signature)):
        if data is None:
            continue
        fd = os.open(stage / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def install_pack(session: Session, data_dir: Path, folder: Path,
                 progress: Progress | None = None, *, trust: Trust | None = None
                 ) -> InstalledPack:
    """Install the pack in `folder` into `data_dir` and make it the active version; commits.

    `trust` holds the publisher keys to check the signature against (every edge passes
    the hub's, `trust_from_settings`); None skips the signature, for callers that made
    the pack themselves (tests, the demo). Refuses (PackRefused/ManifestError, Conflict
    when this version is installed already, StorageFull) with nothing installed: the data
    folder and the database stay as they were. The session is committed (or rolled back):
    pass one with no pending work. `progress` is called with the number of bytes just
    copied or verified; the total is `install_work(manifest)`.
    """
    data_dir = Path(data_dir)
    folder = Path(folder)
    raw, manifest = read_manifest_bytes(folder)
    signature = read_signature(folder)
    if trust is not None:
        trust.check(manifest.id, raw, signature)
    check_folder(folder, manifest)
    if (conflict := _already_installed(session, manifest)) is not None:
        raise conflict
    check_dependencies(session, manifest)
    data_dir.mkdir(parents=True, exist_ok=True)

    with install_lock(data_dir):
        session.commit()  # end any older read snapshot: see what others committed meanwhile
        _recover_locked(session, data_dir)
        if (conflict := _already_installed(session, manifest)) is not None:
            raise conflict
        check_space(session, data_dir, manifest)
        staging = staging_root(data_dir)
        staging.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f"install-{manifest.id}-", dir=staging))
        try:
            _stage(folder, stage, manifest, progress)
            _write_metadata(stage, raw, signature)
            _fsync_dir(stage)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            _remove_if_empty(staging)
            raise
        return _switch(session, data_dir, stage, manifest, raw)


def install_staged(session: Session, data_dir: Path, stage: Path, raw: bytes,
                   progress: Progress | None = None) -> InstalledPack:
    """Install a pack a transport downloaded into `stage` (a folder of data_dir/staging),
    whose manifest bytes `raw` the caller has read and checked (signature included).

    The folder is checked against the manifest (extra, missing, links), every file is
    hashed and flushed to the card, and the manifest there must still be `raw`; then the
    folder is switched in as `install_pack` does. On a refusal the folder is left for the
    caller to remove."""
    data_dir = Path(data_dir)
    stage = Path(stage)
    manifest = parse_manifest_bytes(raw, stage.name)
    check_folder(stage, manifest)
    try:
        staged_raw = (stage / MANIFEST_NAME).read_bytes()
    except OSError:
        staged_raw = b""
    if staged_raw != raw:
        raise PackRefused(N_("Pack %(pack)s: %(file)s changed during the download."),
                          hint=N_("Try again: the publisher may have been updating it."),
                          pack=manifest.id, file=MANIFEST_NAME)
    per_file = _libc() is None
    verify_tree(stage, manifest, progress, fsync=per_file)
    for d in sorted({(stage / f.path).parent for f in manifest.files} | {stage},
                    key=lambda p: len(p.parts), reverse=True):
        os.chmod(d, DIR_MODE)
        if per_file:
            _fsync_dir(d)
    if not per_file:
        _syncfs(stage)  # what rsync wrote, on the card before the switch
    with install_lock(data_dir):
        session.commit()
        if (conflict := _already_installed(session, manifest)) is not None:
            raise conflict
        check_dependencies(session, manifest)
        return _switch(session, data_dir, stage, manifest, raw)


def _switch(session: Session, data_dir: Path, stage: Path, manifest: Manifest,
            raw: bytes | None = None) -> InstalledPack:
    """Rename the verified `stage` into place and record it; the install lock is held.
    On failure nothing of the new version stays in packs/ and the database is as before."""
    target = pack_root(data_dir, manifest.id, manifest.version)
    packs_existed = packs_root(data_dir).exists()
    pack_dir_existed = target.parent.exists()
    switched = False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # complete but unknown to the database: an earlier cut
            _discard(target, data_dir)
        os.rename(stage, target)
        switched = True
        _fsync_dir(target.parent)
        search.upgrade_index(session, data_dir)
        docs = search.documents(manifest, target, checked=True)
        pack, stale = _record(session, manifest, docs, raw)
        session.commit()
    except BaseException:
        session.rollback()
        if switched:
            _discard(target, data_dir)
        shutil.rmtree(stage, ignore_errors=True)
        if not pack_dir_existed:
            _remove_if_empty(target.parent)
        if not packs_existed:
            _remove_if_empty(packs_root(data_dir))
        _remove_if_empty(staging_root(data_dir))
        raise
    _point_current(data_dir, manifest.id, manifest.version)
    for version in stale:
        _discard(pack_root(data_dir, manifest.id, version), data_dir)
    link_active_versions(session, data_dir)
    leftover = staging_root(data_dir) / pull_dir_name(manifest.id, manifest.version)
    if leftover.is_dir():  # a download of this version, now useless
        with _try_lock(leftover) as free:
            if free:
                shutil.rmtree(leftover, ignore_errors=True)
    _remove_if_empty(staging_root(data_dir))
    return pack


def _stage(folder: Path, stage: Path, manifest: Manifest, progress: Progress | None) -> None:
    """Copy the listed files into `stage`, durably, then verify the copies."""
    made = {stage}
    per_file = _libc() is None
    for f in manifest.files:
        dst = stage / f.path
        if dst.parent not in made:
            dst.parent.mkdir(parents=True, exist_ok=True)
            made.update([dst.parent, *dst.parent.parents])
        _copy_verified(folder / f.path, dst, f, manifest.id, progress, fsync=per_file)
    for d in sorted(made, key=lambda p: len(p.parts), reverse=True):
        if d == stage or stage in d.parents:
            os.chmod(d, DIR_MODE)  # mkdtemp makes the stage 0700
            if per_file:
                _fsync_dir(d)
    if not per_file:
        _syncfs(stage)  # every file and folder of the stage on the card, in one call
    verify_tree(stage, manifest, progress)


# -- rollback and removal ----------------------------------------------------------------

def installed_manifest(pack: InstalledPack) -> Manifest:
    return parse_manifest(json.loads(pack.manifest_json), pack.pack_id)


def rollback(session: Session, data_dir: Path, pack_id: str, version: str | None = None
             ) -> InstalledPack:
    """Make another installed version of `pack_id` the active one again (by default the
    one kept from before the last update); commits. The version rolled back from stays
    installed, so the next automatic update does not download it again."""
    data_dir = Path(data_dir)
    with install_lock(data_dir):
        session.commit()
        rows = list(session.scalars(select(InstalledPack).where(
            InstalledPack.pack_id == pack_id).order_by(InstalledPack.installed_at.desc())))
        if not rows:
            raise NotFound(N_("Pack %(pack)s is not installed."), pack=pack_id)
        others = [r for r in rows if not r.active]
        if version is None:
            if not others:
                raise NotFound(N_("Pack %(pack)s has no other version to go back to."),
                               pack=pack_id)
            target = others[0]
        else:
            found = next((r for r in rows if r.version == version), None)
            if found is None:
                raise NotFound(N_("Pack %(pack)s version %(version)s is not installed."),
                               hint=N_("Installed versions: %(versions)s."), pack=pack_id,
                               version=version, versions=", ".join(r.version for r in rows))
            if found.active:
                raise Conflict(N_("Pack %(pack)s version %(version)s is already the active "
                                  "one."), pack=pack_id, version=version)
            target = found
        root = pack_root(data_dir, pack_id, target.version)
        manifest = installed_manifest(target)
        # Refuse to switch to a copy that lost files (sizes only: hashing gigabytes would
        # keep the technician waiting; `ardoise pack verify` does that).
        check_folder(root, manifest)
        try:
            _activate(session, manifest, search.documents(manifest, root))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        _point_current(data_dir, pack_id, target.version)
        session.refresh(target)
        return target


def remove_pack(session: Session, data_dir: Path, pack_id: str) -> list[str]:
    """Uninstall every version of a pack; commits. Returns the versions removed.
    Assignments keep their resource uids and show the resource as unavailable."""
    data_dir = Path(data_dir)
    versions = list(session.scalars(select(InstalledPack.version).where(
        InstalledPack.pack_id == pack_id)))
    if not versions:
        raise NotFound(N_("Pack %(pack)s is not installed."), pack=pack_id)
    with install_lock(data_dir):
        session.execute(delete(ResourceFile).where(ResourceFile.pack_id == pack_id))
        session.execute(delete(Resource).where(Resource.pack_id == pack_id))
        session.execute(delete(InstalledPack).where(InstalledPack.pack_id == pack_id))
        search.unindex_pack(session, pack_id)
        session.commit()
        _discard(packs_root(data_dir) / pack_id, data_dir)
    return versions


def reindex(session: Session, data_dir: Path) -> int:
    """Rebuild the search index (a cache) from the installed packs; commits."""
    return search.rebuild_index(session, Path(data_dir))


__all__ = [
    "PULL_PREFIX",
    "PackRefused",
    "Progress",
    "check_dependencies",
    "check_folder",
    "check_installable",
    "check_space",
    "install_lock",
    "install_pack",
    "install_staged",
    "install_work",
    "installed_manifest",
    "link_active_versions",
    "pull_dir_name",
    "read_signature",
    "recover",
    "reindex",
    "remove_pack",
    "rollback",
    "verify_tree",
]
