"""`ardoise pack verify`: every problem of a pack folder or an installed pack, not only the
first, so a technician or a publisher sees at once what to fix."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from ardoise.errors import ArdoiseError, NotFound
from ardoise.i18n import N_
from content_packs.catalog import active_pack
from content_packs.errors import FileDamaged, PackRefused
from content_packs.install import installed_manifest, read_signature
from content_packs.manifest import HASH_CHUNK, PACK_METADATA_FILES, Manifest, read_manifest_bytes
from content_packs.paths import is_within, pack_root
from content_packs.signing import Trust

Progress = Callable[[int], None]


@dataclass
class Report:
    """What `verify` found: the manifest (when readable), who signed it, the problems."""

    manifest: Manifest | None = None
    signer: str | None = None
    problems: list[ArdoiseError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _hash(path: Path, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest()


def check_files(root: Path, manifest: Manifest, progress: Progress | None = None,
                *, extra: bool = True) -> list[ArdoiseError]:
    """Every listed file: there, a regular file inside the pack, of the right size and
    hash; and (with `extra`) no file the manifest does not list."""
    problems: list[ArdoiseError] = []
    pack = manifest.id
    for f in manifest.files:
        full = root / f.path
        if not is_within(root, full):
            problems.append(PackRefused(N_("Pack %(pack)s: %(file)s is a link that points "
                                           "outside the pack. It was refused."),
                                        pack=pack, file=f.path))
            continue
        try:
            st = full.stat()
        except OSError:
            problems.append(PackRefused(N_("Pack %(pack)s: file %(file)s, listed in the "
                                           "manifest, is missing."), pack=pack, file=f.path))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(PackRefused(N_("Pack %(pack)s: %(file)s is not a regular file."),
                                        pack=pack, file=f.path))
        elif st.st_size != f.size:
            problems.append(PackRefused(N_("Pack %(pack)s: file %(file)s has %(actual)s bytes "
                                           "but the manifest says %(expected)s."), pack=pack,
                                        file=f.path, actual=st.st_size, expected=f.size))
        elif _hash(full, progress) != f.sha256:
            problems.append(FileDamaged(N_("Pack %(pack)s: file %(file)s is damaged or was "
                                           "altered: its SHA-256 does not match the "
                                           "manifest."), pack=pack, file=f.path))
    if extra:
        listed = {f.path for f in manifest.files} | PACK_METADATA_FILES
        for dirpath, _dirs, names in os.walk(root):
            for name in sorted(names):
                rel = (Path(dirpath) / name).relative_to(root).as_posix()
                if rel not in listed:
                    problems.append(PackRefused(N_("Pack %(pack)s: file %(file)s is not listed "
                                                   "in the manifest."), pack=pack, file=rel))
    return problems


def verify_folder(folder: Path, trust: Trust | None, progress: Progress | None = None
                  ) -> Report:
    """Check a pack folder as a hub would before installing it (trust None: no signature
    check)."""
    report = Report()
    try:
        raw, manifest = read_manifest_bytes(Path(folder))
    except ArdoiseError as exc:
        report.problems.append(exc)
        return report
    report.manifest = manifest
    if trust is not None:
        try:
            report.signer = trust.check(manifest.id, raw, read_signature(Path(folder)))
        except ArdoiseError as exc:
            report.problems.append(exc)
    report.problems += check_files(Path(folder), manifest, progress)
    return report


def verify_installed(session: Session, data_dir: Path, pack_id: str,
                     progress: Progress | None = None) -> Report:
    """Check the active version of an installed pack against the hashes recorded when it
    was installed (a failing SD card shows up here first)."""
    pack = active_pack(session, pack_id)
    if pack is None:
        raise NotFound(N_("Pack %(pack)s is not installed."), pack=pack_id)
    manifest = installed_manifest(pack)
    root = pack_root(Path(data_dir), pack.pack_id, pack.version)
    return Report(manifest, None, check_files(root, manifest, progress, extra=False))


__all__ = ["Report", "check_files", "verify_folder", "verify_installed"]
