"""Where packs come from: an rsync daemon's tree, a folder, a USB stick. One shape for all.

A pack tree (what the central publishes and `ardoise pack export` writes) is
```
index.json, index.sig          the packs and versions on offer, signed (optional on a stick)
<id>/<version>/manifest.json   one folder per version, as a publisher built and signed it
<id>/<version>/manifest.sig
<id>/<version>/...
```
A stick holds a tree under `ardoise-packs/`, or pack folders directly. Each source lists
its offers and gives the location rsync copies a version from; the same pull, signature
check and verification follow whatever the source (`content_packs.pull`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ardoise.errors import ArdoiseError, Invalid, NotFound
from ardoise.i18n import N_
from content_packs.errors import PackRefused
from content_packs.manifest import (
    MANIFEST_NAME,
    SCHEMA,
    Dependency,
    ManifestError,
    Text,
    is_newer,
    read_manifest_bytes,
    version_key,
)
from content_packs.rsync import TransferOptions, check_url, run_rsync
from content_packs.signing import INDEX_CONTEXT, Trust

INDEX_NAME = "index.json"
INDEX_SIG_NAME = "index.sig"
EXPORT_DIR = "ardoise-packs"
MAX_INDEX_BYTES = 8 * 1024 * 1024
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$")


@dataclass(frozen=True)
class Offer:
    """One version of a pack a source can provide."""

    pack_id: str
    version: str
    title: Text
    total_bytes: int
    location: str  # what rsync copies from: rsync://.../<id>/<version> or a folder
    source: str  # the source's label, for messages
    manifest_sha256: str | None = None  # from a signed index: the manifest it promises
    requires: tuple[Dependency, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.pack_id, "version": self.version, "title": self.title.to_dict(),
                "bytes": self.total_bytes, "location": self.location, "source": self.source}


@dataclass
class Catalogue:
    """What a source offers, and what it holds that could not be read (shown, not fatal)."""

    offers: list[Offer] = field(default_factory=list)
    problems: list[ArdoiseError] = field(default_factory=list)

    def find(self, pack_id: str, version: str | None = None) -> Offer | None:
        """The offer of `version`, or the newest version of the pack."""
        mine = [o for o in self.offers if o.pack_id == pack_id
                and (version is None or o.version == version)]
        return max(mine, key=lambda o: version_key(o.version), default=None)

    def newest(self) -> list[Offer]:
        """The newest version of each pack on offer."""
        best: dict[str, Offer] = {}
        for offer in self.offers:
            if offer.pack_id not in best or is_newer(offer.version,
                                                     best[offer.pack_id].version):
                best[offer.pack_id] = offer
        return [best[k] for k in sorted(best)]


# -- the signed index ---------------------------------------------------------------------

def index_document(entries: list[dict[str, Any]], generated_at: str) -> bytes:
    return (json.dumps({"schema": SCHEMA, "generated_at": generated_at, "packs": entries},
                       ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def parse_index(raw: bytes, source: str, location_of: Any) -> list[Offer]:
    """Offers from an index's bytes (already signature-checked); refuses a damaged index."""
    def bad(reason: str) -> PackRefused:
        return PackRefused(N_("The pack index of %(source)s (%(file)s) is damaged: "
                              "%(reason)s."), source=source, file=INDEX_NAME, reason=reason)
    if len(raw) > MAX_INDEX_BYTES:
        raise bad("too large")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad("not UTF-8 JSON") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise bad("unknown schema")
    packs = data.get("packs")
    if not isinstance(packs, list):
        raise bad("no list of packs")
    offers = []
    for item in packs:
        try:
            pack_id, version = item["id"], item["version"]
            if not (_SLUG.match(pack_id) and _VERSION.match(version)):
                raise ValueError
            title = item.get("title") or {}
            total = item.get("total_bytes", 0)
            sha = item.get("manifest_sha256")
            if (isinstance(total, bool) or not isinstance(total, int) or total < 0
                    or not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha)):
                raise ValueError
            requires = tuple(Dependency(str(d["id"]), str(d.get("min_version", "")))
                             for d in item.get("requires", []))
            offers.append(Offer(pack_id, version, Text(str(title.get("fr", pack_id)),
                                                       str(title.get("en", pack_id))),
                                total, location_of(pack_id, version), source, sha, requires))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise bad(f"entry {json.dumps(item, ensure_ascii=False)[:80]}") from None
    return offers


def _checked_index(folder: Path, source: str, trust: Trust, location_of: Any) -> list[Offer]:
    raw = (folder / INDEX_NAME).read_bytes()
    sig_path = folder / INDEX_SIG_NAME
    signature = sig_path.read_bytes() if sig_path.is_file() else None
    trust.check(source, raw, signature, file=INDEX_SIG_NAME, context=INDEX_CONTEXT)
    return parse_index(raw, source, location_of)


# -- sources ------------------------------------------------------------------------------

class RsyncSource:
    """The central's pack tree served by an rsync daemon: rsync://server[:port]/module.
    Its signed index says what is on offer."""

    remote = True

    def __init__(self, url: str) -> None:
        self.url = check_url(url.rstrip("/"))
        self.label = self.url

    def location(self, pack_id: str, version: str) -> str:
        return f"{self.url}/{pack_id}/{version}"

    def scan(self, workdir: Path, trust: Trust, options: TransferOptions) -> Catalogue:
        workdir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="index-", dir=workdir))
        try:
            run_rsync(self.url, tmp, options, only=[INDEX_NAME, INDEX_SIG_NAME])
            if not (tmp / INDEX_NAME).is_file():
                raise PackRefused(N_("%(source)s has no pack index (%(file)s): it is not a pack "
                                     "tree published by 'ardoise pack publish'."),
                                  source=self.label, file=INDEX_NAME)
            return Catalogue(_checked_index(tmp, self.label, trust, self.location))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            with contextlib.suppress(OSError):
                workdir.rmdir()  # staging/ goes when nothing else is in it


class FolderSource:
    """A folder: one pack, a folder of packs, a pack tree, or a USB stick holding one
    under ardoise-packs/. Packs are found by their manifests (each one signed), so a
    stick needs no index."""

    remote = False

    def __init__(self, path: Path, label: str | None = None) -> None:
        self.path = Path(path)
        self.label = label or str(self.path)

    def _candidates(self) -> list[Path]:
        root = self.path
        if (root / MANIFEST_NAME).is_file():
            return [root]
        tree = root / EXPORT_DIR if (root / EXPORT_DIR).is_dir() else root
        found = []
        for level in ("*/" + MANIFEST_NAME, "*/*/" + MANIFEST_NAME):
            found += [m.parent for m in sorted(tree.glob(level))
                      if not any(part.startswith(".") for part in m.parent.relative_to(
                          root).parts)]
        return found

    def scan(self, workdir: Path, trust: Trust, options: TransferOptions) -> Catalogue:
        if not self.path.is_dir():
            raise Invalid(N_("The pack source %(source)s is not a folder (is the USB stick "
                             "still there?)."), source=self.label)
        catalogue = Catalogue()
        for folder in self._candidates():
            try:
                raw, manifest = read_manifest_bytes(folder)
            except ManifestError as exc:
                catalogue.problems.append(exc)
                continue
            catalogue.offers.append(Offer(
                manifest.id, manifest.version, manifest.title, manifest.total_bytes,
                str(folder), self.label, hashlib.sha256(raw).hexdigest(), manifest.requires))
        return catalogue


def open_source(spec: str) -> RsyncSource | FolderSource:
    """A source from what a user typed or a setting holds: an rsync:// address or a
    folder."""
    spec = spec.strip()
    if spec.startswith("rsync://"):
        return RsyncSource(spec)
    if "://" in spec or re.match(r"^[^/]+:", spec):
        raise Invalid(N_("%(url)s is not a pack source address: use "
                         "rsync://server[:port]/module or a folder."), url=spec[:200])
    return FolderSource(Path(spec))


# -- USB sticks --------------------------------------------------------------------------

def find_usb_sources(mount_root: Path) -> list[FolderSource]:
    """Mounted sticks under `mount_root` (/media/<label> or /media/<user>/<label>) that
    hold packs: an ardoise-packs/ folder, or pack folders at their top."""
    root = Path(mount_root)
    if not root.is_dir():
        return []
    sticks: list[FolderSource] = []
    try:
        first = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return []
    for mount in first:
        levels = [mount]
        try:
            levels += sorted(p for p in mount.iterdir() if p.is_dir()
                             and not (mount / EXPORT_DIR).is_dir()
                             and not (p / MANIFEST_NAME).exists())
        except OSError:
            continue
        for candidate in levels:
            try:
                has = (candidate / EXPORT_DIR).is_dir() or any(
                    (p / MANIFEST_NAME).is_file() for p in candidate.iterdir() if p.is_dir())
            except OSError:
                continue
            if has:
                sticks.append(FolderSource(candidate))
    return sticks


def usb_offers(mount_root: Path, trust: Trust, workdir: Path
               ) -> list[tuple[FolderSource, Catalogue]]:
    """Every stick under `mount_root` with what it offers (for the technician page)."""
    out = []
    for stick in find_usb_sources(mount_root):
        try:
            out.append((stick, stick.scan(workdir, trust, TransferOptions())))
        except ArdoiseError as exc:  # removed while being read
            out.append((stick, Catalogue(problems=[exc])))
    return out


def find_usb_offer(mount_root: Path, trust: Trust, workdir: Path, location: str) -> Offer:
    """The offer found on a stick at `location`: a page may only ask to install what was
    detected, never an arbitrary folder."""
    for _stick, catalogue in usb_offers(mount_root, trust, workdir):
        for offer in catalogue.offers:
            if offer.location == location:
                return offer
    raise NotFound(N_("This pack is no longer on a USB stick (was it removed?)."))


__all__ = [
    "EXPORT_DIR",
    "INDEX_NAME",
    "INDEX_SIG_NAME",
    "Catalogue",
    "FolderSource",
    "Offer",
    "RsyncSource",
    "find_usb_offer",
    "find_usb_sources",
    "index_document",
    "open_source",
    "parse_index",
    "usb_offers",
]
