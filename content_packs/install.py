"""Installing a pack from a folder: verify everything, then switch it in atomically.

The order matters on a Pi that can lose power at any moment:
1. read the manifest and check the folder against it (missing or extra files, sizes,
   links leaving the pack) before writing anything;
2. copy into data_dir/staging/<tmp>/, hashing what is read, fsync every file and folder,
   then verify the copies' hashes again;
3. rename the staging folder to data_dir/packs/<id>/<version>/ (atomic on one file system);
4. in ONE database transaction: the previous version inactive, the new one active, its
   resources (same uids as before), files and search index;
5. point data_dir/packs/<id>/current at the version (a symlink replaced atomically), which
   is what nginx serves; older versions but the previous one are removed.
A failure before 4 leaves the database untouched and removes what was staged; a cut
between 3 and 4 leaves a complete but unknown folder that the next install replaces.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ardoise.errors import Conflict, Invalid, NotFound, StorageFull
from ardoise.i18n import N_
from content_packs import search
from content_packs.catalog import InstalledPack, Resource, ResourceFile
from content_packs.manifest import (
    HASH_CHUNK,
    PACK_METADATA_FILES,
    Manifest,
    PackFile,
    read_manifest,
)
from content_packs.paths import CURRENT_LINK, is_within, pack_root, packs_root, staging_root

Progress = Callable[[int], None]
# Installed files are read by the web process and by nginx: world-readable, never writable.
FILE_MODE = 0o644
DIR_MODE = 0o755
# Room kept free on the data partition beyond the pack itself (the database must grow).
FREE_SPACE_MARGIN = 64 * 1024 * 1024


class PackRefused(Invalid):
    """A pack folder that does not match its manifest; names the pack and the file."""

    code = "pack_refused"


def _shown(path: str) -> str:
    """A file name as read from disk, printable even when it is not valid UTF-8."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def install_work(manifest: Manifest) -> int:
    """Units of work `install_pack` reports through `progress` (bytes copied + verified)."""
    return 2 * manifest.total_bytes


def check_folder(folder: Path, manifest: Manifest) -> None:
    """Refuse a folder whose files do not match the manifest, before anything is copied:
    a listed file missing or of the wrong size, a file not listed, a link leaving the pack
    or pointing at a folder, anything but a regular file."""
    pack = manifest.id
    for f in manifest.files:
        full = folder / f.path
        if not is_within(folder, full):
            raise PackRefused(N_("Pack %(pack)s: %(file)s is a link that points outside the "
                                 "pack. It was refused."), pack=pack, file=f.path)
        try:
            st = full.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise PackRefused(N_("Pack %(pack)s: file %(file)s, listed in the manifest, is "
                                 "missing."), hint=N_("Copy the whole pack again."),
                              pack=pack, file=f.path) from None
        if stat.S_ISDIR(st.st_mode) and full.is_symlink():
            raise PackRefused(N_("Pack %(pack)s: %(file)s is a link to a folder; a pack must "
                                 "hold real folders and files."), pack=pack, file=f.path)
        if not stat.S_ISREG(st.st_mode):
            raise PackRefused(N_("Pack %(pack)s: %(file)s is not a regular file."),
                              pack=pack, file=f.path)
        if st.st_size != f.size:
            raise PackRefused(N_("Pack %(pack)s: file %(file)s has %(actual)s bytes but the "
                                 "manifest says %(expected)s."),
                              hint=N_("The copy may be incomplete: copy the pack again."),
                              pack=pack, file=f.path, actual=st.st_size, expected=f.size)
    listed = {f.path for f in manifest.files} | PACK_METADATA_FILES
    for root, dirs, names in os.walk(folder):
        for name in sorted(dirs) + sorted(names):
            full = Path(root) / name
            rel = full.relative_to(folder).as_posix()
            if full.is_symlink():
                if not is_within(folder, full):
                    raise PackRefused(N_("Pack %(pack)s: %(file)s is a link that points "
                                         "outside the pack. It was refused."),
                                      pack=pack, file=_shown(rel))
                if full.is_dir():
                    raise PackRefused(N_("Pack %(pack)s: %(file)s is a link to a folder; a "
                                         "pack must hold real folders and files."),
                                      pack=pack, file=_shown(rel))
            if name in dirs:
                continue
            if rel not in listed:
                raise PackRefused(N_("Pack %(pack)s: file %(file)s is not listed in the "
                                     "manifest."),
                                  hint=N_("Remove it from the folder, or rebuild the pack."),
                                  pack=pack, file=_shown(rel))


def _mismatch(pack: str, path: str) -> PackRefused:
    return PackRefused(N_("Pack %(pack)s: file %(file)s is damaged or was altered: its "
                          "SHA-256 does not match the manifest."),
                       hint=N_("Copy the pack again from its source."), pack=pack, file=path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_verified(src: Path, dst: Path, f: PackFile, pack: str,
                   progress: Progress | None) -> None:
    """Copy src to dst hashing what is read; fsync dst. Memory stays at one chunk."""
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
        os.fsync(fout.fileno())
    if size != f.size:
        raise PackRefused(N_("Pack %(pack)s: file %(file)s changed size while it was being "
                             "copied."), pack=pack, file=f.path)
    if digest.hexdigest() != f.sha256:
        raise _mismatch(pack, f.path)


def verify_tree(root: Path, manifest: Manifest, progress: Progress | None = None) -> None:
    """Hash every file of the manifest under `root` (in chunks) and refuse on the first
    mismatch. Used on the staged copy; a later transport (rsync) stages then calls it."""
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
        if digest.hexdigest() != f.sha256:
            raise _mismatch(manifest.id, f.path)


@contextlib.contextmanager
def _install_lock(data_dir: Path) -> Iterator[None]:
    """One install at a time per data folder (the CLI and the agent may both try): an
    advisory lock on the folder itself, so no lock file is left behind."""
    fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


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


def _resource_rows(manifest: Manifest) -> list[Resource]:
    rows = []
    for position, spec in enumerate(manifest.resources):
        entry = manifest.file(spec.entry)
        assert entry is not None  # the manifest checks entries are listed files
        rows.append(Resource(
            uid=f"{manifest.id}/{spec.id}", pack_id=manifest.id, pack_version=manifest.version,
            kind=spec.kind, entry=spec.entry, media_type=entry.media_type,
            title_fr=spec.title.fr, title_en=spec.title.en,
            description_fr=spec.description.fr, description_en=spec.description.en,
            language=spec.language, subjects=" ".join(spec.subjects),
            cycles=" ".join(spec.cycles), duration_seconds=spec.duration, position=position,
            search_title="", search_text=""))
    return rows


def _record(session: Session, manifest: Manifest, docs: list[search.SearchDoc]
            ) -> tuple[InstalledPack, list[str]]:
    """Write the catalogue for the new version (no commit). Returns the row and the
    versions to remove from disk (all but the new one and the one it replaces)."""
    pid = manifest.id
    previous = session.scalars(select(InstalledPack.version).where(
        InstalledPack.pack_id == pid, InstalledPack.active.is_(True))).first()
    session.execute(update(InstalledPack).where(InstalledPack.pack_id == pid)
                    .values(active=False))
    pack = InstalledPack(
        pack_id=pid, version=manifest.version, active=True, title_fr=manifest.title.fr,
        title_en=manifest.title.en, language=manifest.language, licence=manifest.licence,
        publisher=manifest.publisher, file_count=len(manifest.files),
        total_bytes=manifest.total_bytes, manifest_json=manifest.to_json())
    session.add(pack)
    session.execute(delete(Resource).where(Resource.pack_id == pid))
    session.add_all(_resource_rows(manifest))
    session.add_all(ResourceFile(pack_id=pid, version=manifest.version, path=f.path,
                                 sha256=f.sha256, size=f.size, media_type=f.media_type)
                    for f in manifest.files)
    session.flush()
    search.index_pack(session, pid, docs)
    keep = {manifest.version, previous}
    stale = [v for v in session.scalars(select(InstalledPack.version).where(
        InstalledPack.pack_id == pid)) if v not in keep]
    if stale:
        session.execute(delete(ResourceFile).where(ResourceFile.pack_id == pid,
                                                   ResourceFile.version.in_(stale)))
        session.execute(delete(InstalledPack).where(InstalledPack.pack_id == pid,
                                                    InstalledPack.version.in_(stale)))
    return pack, stale


def _check_space(data_dir: Path, manifest: Manifest) -> None:
    free = shutil.disk_usage(data_dir).free
    if free < manifest.total_bytes + FREE_SPACE_MARGIN:
        mb = 1024 * 1024
        raise StorageFull(N_("Not enough free space to install pack %(pack)s: %(needed)s MB "
                             "needed, %(free)s MB free."),
                          hint=N_("Remove a pack you no longer use with 'ardoise pack "
                                  "remove'."), pack=manifest.id,
                          needed=(manifest.total_bytes + FREE_SPACE_MARGIN) // mb + 1,
                          free=free // mb)


def _already_installed(session: Session, manifest: Manifest) -> Conflict | None:
    row = session.get(InstalledPack, (manifest.id, manifest.version))
    if row is None:
        return None
    return Conflict(N_("Pack %(pack)s version %(version)s is already installed."),
                    pack=manifest.id, version=manifest.version)


def check_installable(session: Session, folder: Path) -> Manifest:
    """Read the manifest of `folder`, check the folder against it and that this version is
    not installed yet; writes nothing. `install_pack` does the same first; the CLI calls
    it to refuse before showing a progress bar."""
    manifest = read_manifest(Path(folder))
    check_folder(Path(folder), manifest)
    if (conflict := _already_installed(session, manifest)) is not None:
        raise conflict
    return manifest


def install_pack(session: Session, data_dir: Path, folder: Path,
                 progress: Progress | None = None) -> InstalledPack:
    """Install the pack in `folder` into `data_dir` and make it the active version; commits.

    Refuses (PackRefused/ManifestError, Conflict when this version is installed already,
    StorageFull) with nothing installed: the data folder and the database stay as they
    were. The session is committed (or rolled back): pass one with no pending work.
    `progress` is called with the number of bytes just copied or verified; the total is
    `install_work(manifest)`.
    """
    data_dir = Path(data_dir)
    folder = Path(folder)
    manifest = check_installable(session, folder)
    data_dir.mkdir(parents=True, exist_ok=True)
    _check_space(data_dir, manifest)

    with _install_lock(data_dir):
        session.commit()  # end any older read snapshot: see what others committed meanwhile
        if (conflict := _already_installed(session, manifest)) is not None:
            raise conflict
        staging = staging_root(data_dir)
        staging_existed = staging.exists()
        staging.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f"install-{manifest.id}-", dir=staging))
        target = pack_root(data_dir, manifest.id, manifest.version)
        packs_existed = packs_root(data_dir).exists()
        pack_dir_existed = target.parent.exists()
        switched = False
        try:
            _stage(folder, stage, manifest, progress)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # complete but unknown to the database: an earlier cut
                _discard(target, data_dir)
            os.rename(stage, target)
            switched = True
            _fsync_dir(target.parent)
            docs = search.documents(manifest, target)
            pack, stale = _record(session, manifest, docs)
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
            if not staging_existed:
                _remove_if_empty(staging)
            raise
        _point_current(data_dir, manifest.id, manifest.version)
        for version in stale:
            _discard(pack_root(data_dir, manifest.id, version), data_dir)
        link_active_versions(session, data_dir)
    return pack


def _stage(folder: Path, stage: Path, manifest: Manifest, progress: Progress | None) -> None:
    """Copy the listed files into `stage`, durably, then verify the copies."""
    made = {stage}
    for f in manifest.files:
        dst = stage / f.path
        if dst.parent not in made:
            dst.parent.mkdir(parents=True, exist_ok=True)
            made.update([dst.parent, *dst.parent.parents])
        _copy_verified(folder / f.path, dst, f, manifest.id, progress)
    for d in sorted(made, key=lambda p: len(p.parts), reverse=True):
        if d == stage or stage in d.parents:
            os.chmod(d, DIR_MODE)  # mkdtemp makes the stage 0700
            _fsync_dir(d)
    verify_tree(stage, manifest, progress)


def remove_pack(session: Session, data_dir: Path, pack_id: str) -> list[str]:
    """Uninstall every version of a pack; commits. Returns the versions removed.
    Assignments keep their resource uids and show the resource as unavailable."""
    data_dir = Path(data_dir)
    versions = list(session.scalars(select(InstalledPack.version).where(
        InstalledPack.pack_id == pack_id)))
    if not versions:
        raise NotFound(N_("Pack %(pack)s is not installed."), pack=pack_id)
    with _install_lock(data_dir):
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
    "PackRefused",
    "Progress",
    "check_folder",
    "check_installable",
    "install_pack",
    "install_work",
    "link_active_versions",
    "reindex",
    "remove_pack",
    "verify_tree",
]
