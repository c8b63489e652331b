"""Publishing packs into a tree (the central's rsync module) and exporting them to a stick.

Both write a pack tree (see `content_packs.sources`): `<id>/<version>/` folders, each
complete with its manifest and signature. A version is copied into a hidden folder of the
tree and renamed into place, so an rsync client never sees half a version; the index is
rewritten and signed after each publish (written beside, then renamed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ardoise.errors import ArdoiseError, Conflict, NotFound
from ardoise.i18n import N_
from content_packs.catalog import active_pack
from content_packs.install import check_folder, read_signature, verify_tree
from content_packs.manifest import (
    HASH_CHUNK,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    Manifest,
    read_manifest_bytes,
    version_key,
)
from content_packs.paths import pack_root
from content_packs.signing import INDEX_CONTEXT, Trust, signature_document
from content_packs.sources import EXPORT_DIR, INDEX_NAME, INDEX_SIG_NAME, index_document

if TYPE_CHECKING:  # cryptography is loaded where keys are used, not here
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Published:
    pack_id: str
    version: str
    path: Path
    signer: str | None


def _copy_tree(folder: Path, target: Path, manifest: Manifest, raw: bytes,
               signature: bytes | None, progress: Progress | None) -> None:
    """Copy a pack's files (and its manifest bytes and signature) into `target`, keeping
    modification times (rsync's quick check on the hubs relies on them), fsynced."""
    for f in manifest.files:
        dst = target / f.path
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(folder / f.path, "rb") as fin, open(dst, "wb") as fout:
            while chunk := fin.read(HASH_CHUNK):
                fout.write(chunk)
                if progress is not None:
                    progress(len(chunk))
            fout.flush()
            st = os.fstat(fin.fileno())
            os.utime(fout.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))
            os.fsync(fout.fileno())
        os.chmod(dst, 0o644)
    (target / MANIFEST_NAME).write_bytes(raw)
    if signature is not None:
        (target / SIGNATURE_NAME).write_bytes(signature)
    for root, dirs, _names in os.walk(target):
        for d in dirs:
            os.chmod(Path(root) / d, 0o755)
    os.chmod(target, 0o755)


def _place(tree: Path, folder: Path, manifest: Manifest, raw: bytes,
           signature: bytes | None, progress: Progress | None) -> Path:
    """Copy into `tree/<id>/<version>` through a hidden temporary folder and a rename."""
    final = tree / manifest.id / manifest.version
    if final.exists():
        try:
            same = (final / MANIFEST_NAME).read_bytes() == raw
        except OSError:
            same = False
        if same:
            raise Conflict(N_("Pack %(pack)s version %(version)s is already in %(folder)s."),
                           pack=manifest.id, version=manifest.version, folder=str(tree))
        raise Conflict(N_("%(folder)s already holds a different pack %(pack)s version "
                          "%(version)s: a published version never changes."),
                       hint=N_("Give the new content a new version number."),
                       pack=manifest.id, version=manifest.version, folder=str(tree))
    final.parent.mkdir(parents=True, exist_ok=True)
    for old in final.parent.glob(f".{manifest.version}.partial-*"):
        shutil.rmtree(old, ignore_errors=True)  # an earlier copy cut short
    tmp = Path(tempfile.mkdtemp(prefix=f".{manifest.version}.partial-", dir=final.parent))
    try:
        _copy_tree(folder, tmp, manifest, raw, signature, progress)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def write_index(tree: Path, key: Ed25519PrivateKey | None,
                now: dt.datetime | None = None) -> Path:
    """Rewrite `tree/index.json` from the versions in the tree, and sign it with `key`
    into index.sig. Folders whose manifest cannot be read are left out."""
    tree = Path(tree)
    entries = []
    for manifest_path in sorted(tree.glob(f"*/*/{MANIFEST_NAME}")):
        folder = manifest_path.parent
        if folder.name.startswith(".") or folder.parent.name.startswith("."):
            continue
        try:
            raw, m = read_manifest_bytes(folder)
        except ArdoiseError:  # a damaged folder must not hide the others
            continue
        if (m.id, m.version) != (folder.parent.name, folder.name):
            continue
        entries.append({
            "id": m.id, "version": m.version, "title": m.title.to_dict(),
            "language": m.language, "licence": m.licence, "publisher": m.publisher,
            "total_bytes": m.total_bytes, "file_count": len(m.files),
            "manifest_sha256": hashlib.sha256(raw).hexdigest(),
            **({"requires": [d.to_dict() for d in m.requires]} if m.requires else {})})
    entries.sort(key=lambda e: (e["id"], version_key(e["version"])))
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = index_document(entries, stamp)
    outputs = [(INDEX_NAME, raw)]
    if key is not None:
        outputs.append((INDEX_SIG_NAME, signature_document(key, raw, INDEX_CONTEXT)))
    for name, data in outputs:
        tmp = tree / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, tree / name)
    if key is None:
        (tree / INDEX_SIG_NAME).unlink(missing_ok=True)
    return tree / INDEX_NAME


def publish_pack(folder: Path, tree: Path, *, trust: Trust, key: Ed25519PrivateKey | None,
                 progress: Progress | None = None) -> Published:
    """Verify the pack in `folder` (every hash; its signature against `trust`), copy it into
    the tree served to the hubs, and re-sign the tree's index with `key`."""
    folder, tree = Path(folder), Path(tree)
    raw, manifest = read_manifest_bytes(folder)
    signature = read_signature(folder)
    signer = trust.check(manifest.id, raw, signature)
    check_folder(folder, manifest)
    verify_tree(folder, manifest, progress)
    tree.mkdir(parents=True, exist_ok=True)
    path = _place(tree, folder, manifest, raw, signature, progress)
    write_index(tree, key)
    return Published(manifest.id, manifest.version, path, signer)


def export_pack(session: Session, data_dir: Path, pack_id: str, dest: Path,
                progress: Progress | None = None) -> Published:
    """Write the active version of an installed pack to `dest/ardoise-packs/<id>/<version>`
    (a USB stick for another school), with its manifest and signature as published; the
    copy is verified from the stick before this returns."""
    pack = active_pack(session, pack_id)
    if pack is None:
        raise NotFound(N_("Pack %(pack)s is not installed."), pack=pack_id)
    source = pack_root(Path(data_dir), pack.pack_id, pack.version)
    try:
        raw, manifest = read_manifest_bytes(source)
    except Exception:
        raise NotFound(N_("Pack %(pack)s was installed before packs kept their manifest: "
                          "install it again to export it."), pack=pack_id) from None
    tree = Path(dest) / EXPORT_DIR
    tree.mkdir(parents=True, exist_ok=True)
    final = tree / manifest.id / manifest.version
    if final.exists():
        shutil.rmtree(final)  # an older export of the same version: written again
    path = _place(tree, source, manifest, raw, read_signature(source), progress)
    verify_tree(path, manifest)
    return Published(manifest.id, manifest.version, path, None)


def export_work(manifest: Manifest) -> int:
    return manifest.total_bytes


__all__ = ["Published", "export_pack", "export_work", "publish_pack", "write_index"]
