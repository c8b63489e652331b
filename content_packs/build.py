"""`ardoise pack build`: turn a folder of resources into a pack (its manifest.json).

Made for teachers and advisors: they drop lessons, worksheets, recordings and videos in a
folder; the build lists and hashes every file, makes a resource of each one a learner
opens (an HTML page, a PDF, a picture, a recording, a video, a document, a ZIM archive),
takes titles from the pages (<title>, else the first <h1>) and from ZIM metadata, reads
the duration of MP4/M4A, WAV and MP3 files from their headers, and says plainly what it
could not classify. Pictures, sounds, scripts and styles used by a page belong to it and
are not separate resources. Building again keeps each resource's id, titles and codes
(assignments point at ids), so a new version only adds and removes what changed.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from ardoise.errors import Invalid
from ardoise.i18n import N_
from content_packs.manifest import (
    MANIFEST_NAME,
    PACK_METADATA_FILES,
    Manifest,
    ManifestError,
    guess_media_type,
    read_manifest,
    write_manifest,
)
from content_packs.paths import path_problem

MAX_HTML_SCAN = 2 * 1024 * 1024
_DOCUMENT_TYPES = ("application/pdf", "application/epub+zip", "application/zip",
                   "application/vnd.", "text/plain", "text/csv", "text/markdown")
_ASSET_TYPES = ("text/css", "text/javascript", "application/json", "font/")


@dataclass
class BuildReport:
    """What the build did, for the person who ran it."""

    manifest: Manifest
    added: list[str] = field(default_factory=list)  # new resource ids
    kept: list[str] = field(default_factory=list)  # resources carried over by id
    removed: list[str] = field(default_factory=list)  # resources whose file is gone
    untitled: list[str] = field(default_factory=list)  # titled from their file name
    unclassified: list[str] = field(default_factory=list)  # files in no resource
    assets: int = 0  # files used by pages (images, styles, scripts...)


class _PageScan(HTMLParser):
    """Title, first heading and the local files a page uses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.h1 = ""
        self.links: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("title", "h1") and not getattr(self, tag):
            self._in = tag
        for name, value in attrs:
            if name in ("src", "href", "poster", "data") and value:
                self.links.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1 += data


def _scan_page(path: Path) -> _PageScan:
    scan = _PageScan()
    with open(path, "rb") as fh:
        scan.feed(fh.read(MAX_HTML_SCAN).decode("utf-8", "replace"))
    scan.close()
    return scan


def _local_target(page: str, link: str) -> str | None:
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    joined = PurePosixPath(page).parent / unquote(parts.path)
    stack: list[str] = []
    for part in joined.parts:
        if part == "..":
            if not stack:
                return None
            stack.pop()
        elif part not in (".", ""):
            stack.append(part)
    return "/".join(stack)


def slug(text: str, limit: int = 100) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")


def _pretty(stem: str) -> str:
    words = re.sub(r"[-_]+", " ", stem).strip()
    return (words[:1].upper() + words[1:]) if words else stem


# -- durations ----------------------------------------------------------------------------

def _mp4_duration(path: Path) -> int | None:
    """Seconds from the 'mvhd' box of an MP4/M4A/MOV (top-level boxes are skipped by
    their sizes: no need to read the media)."""
    with open(path, "rb") as fh:
        end = path.stat().st_size
        pos = 0
        while pos + 8 <= end:
            fh.seek(pos)
            size, kind = struct.unpack(">I4s", fh.read(8))
            header = 8
            if size == 1:
                size = struct.unpack(">Q", fh.read(8))[0]
                header = 16
            elif size == 0:
                size = end - pos
            if size < header:
                return None
            if kind == b"moov":
                inner, stop = pos + header, pos + size
                while inner + 8 <= stop:
                    fh.seek(inner)
                    isize, ikind = struct.unpack(">I4s", fh.read(8))
                    if ikind == b"mvhd":
                        version = fh.read(1)[0]
                        fh.read(3)
                        if version == 1:
                            _c, _m, scale, duration = struct.unpack(">QQIQ", fh.read(28))
                        else:
                            _c, _m, scale, duration = struct.unpack(">IIII", fh.read(16))
                        return round(duration / scale) if scale else None
                    if isize < 8:
                        return None
                    inner += isize
                return None
            pos += size
    return None


def _wav_duration(path: Path) -> int | None:
    with open(path, "rb") as fh:
        if fh.read(12)[8:12] != b"WAVE":
            return None
        byte_rate = None
        while chunk := fh.read(8):
            if len(chunk) < 8:
                return None
            kind, size = struct.unpack("<4sI", chunk)
            if kind == b"fmt ":
                data = fh.read(size)
                byte_rate = struct.unpack("<I", data[8:12])[0]
                continue
            if kind == b"data":
                return round(size / byte_rate) if byte_rate else None
            fh.seek(size + (size & 1), 1)
    return None


_MP3_BITRATES = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_duration(path: Path) -> int | None:
    """Seconds of an MP3: from the Xing/Info frame count when there is one, else from the
    first frame's bit rate (constant bit rate)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(10)
        start = 0
        if head[:3] == b"ID3" and len(head) == 10:
            start = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
        fh.seek(start)
        frame = fh.read(200)
    if len(frame) < 4 or frame[0] != 0xFF or (frame[1] & 0xE0) != 0xE0:
        return None
    version = (frame[1] >> 3) & 3
    bitrate_index, rate_index = frame[2] >> 4, (frame[2] >> 2) & 3
    if version not in _MP3_RATES or rate_index == 3 or not 0 < bitrate_index < 15:
        return None
    sample_rate = _MP3_RATES[version][rate_index]
    samples = 1152 if version == 3 else 576
    for tag in (b"Xing", b"Info"):
        at = frame.find(tag)
        if 0 <= at <= 40 and len(frame) >= at + 12 and frame[at + 7] & 1:
            frames = struct.unpack(">I", frame[at + 8:at + 12])[0]
            return round(frames * samples / sample_rate)
    kbps = _MP3_BITRATES[bitrate_index] if version == 3 else min(
        _MP3_BITRATES[bitrate_index], 160)
    return round((size - start) * 8 / (kbps * 1000)) if kbps else None


def media_duration(path: Path, media_type: str) -> int | None:
    """Duration in seconds where reading it is cheap (headers only), else None."""
    base = media_type.split(";")[0]
    try:
        if base in ("video/mp4", "audio/mp4", "video/quicktime"):
            return _mp4_duration(path)
        if base == "audio/wav":
            return _wav_duration(path)
        if base == "audio/mpeg":
            return _mp3_duration(path)
    except (OSError, struct.error, IndexError, ValueError):
        return None
    return None


# -- the build ----------------------------------------------------------------------------

def _kind(media_type: str) -> str | None:
    base = media_type.split(";")[0]
    if base in ("text/html", "application/xhtml+xml"):
        return "html"
    if base == "application/pdf":
        return "pdf"
    if base == "application/x-zim":
        return "zim"
    for prefix, kind in (("image/", "image"), ("audio/", "audio"), ("video/", "video")):
        if base.startswith(prefix):
            return kind
    if base.startswith(_DOCUMENT_TYPES):
        return "document"
    return None


def _zim_title(path: Path) -> tuple[str, str]:
    from content_packs import zim  # libzim is loaded only when a pack holds a ZIM

    try:
        meta = zim.metadata(path)
    except Invalid:
        return "", ""
    return meta.get("Title", "").strip(), meta.get("Description", "").strip()


def build_manifest(folder: Path, meta: Mapping[str, Any]) -> BuildReport:
    """Scan `folder`, write its manifest.json and say what was done.

    `meta` holds the pack fields given by the user (id, version, title, description,
    language, subjects, cycles, licence, publisher, requires); missing ones come from the
    folder's existing manifest. Refuses, naming what is missing, when a required field is
    given nowhere."""
    folder = Path(folder)
    if not folder.is_dir():
        raise Invalid(N_("%(folder)s is not a folder."), folder=str(folder))
    previous: Manifest | None = None
    if (folder / MANIFEST_NAME).exists():
        try:
            previous = read_manifest(folder)
        except ManifestError:
            previous = None  # rebuilt from scratch, with what the user gives
    fields: dict[str, Any] = {}
    if previous is not None:
        fields = {k: v for k, v in previous.to_dict().items()
                  if k not in ("schema", "files", "resources")}
    fields.update({k: v for k, v in meta.items() if v not in (None, "", (), [])})
    missing = [name for name in ("id", "version", "title", "licence", "publisher")
               if not fields.get(name)]
    if missing:
        raise Invalid(N_("To build the pack, give: %(fields)s."),
                      hint=N_("For example: --id sciences-3e --version 1.0.0 --title "
                              "\"Sciences 3e cycle\" --licence CC-BY-SA-4.0 --publisher "
                              "\"RÉCIT\"."), fields=", ".join(f"--{m}" for m in missing))
    fields.setdefault("description", {"fr": "", "en": ""})
    fields.setdefault("language", "fr")
    fields.setdefault("subjects", [])
    fields.setdefault("cycles", [])

    files: list[str] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel in PACK_METADATA_FILES or any(p.startswith(".") for p in
                                             PurePosixPath(rel).parts):
            continue
        if path.is_file() and not path.is_symlink():
            problem = path_problem(rel)
            if problem:
                raise Invalid(N_("The file %(file)s cannot go into a pack: its name %(problem)s."),
                              file=rel, problem=problem)
            files.append(rel)
    types = {rel: guess_media_type(folder / rel) for rel in files}
    pages = [rel for rel in files if _kind(types[rel]) == "html"]
    used: set[str] = set()
    scans: dict[str, _PageScan] = {}
    for page in pages:
        scans[page] = _scan_page(folder / page)
        used.update(t for link in scans[page].links
                    if (t := _local_target(page, link)) and t != page)
    activities = {str(PurePosixPath(p).parent) for p in pages
                  if PurePosixPath(p).name in ("index.html", "index.htm")}

    def in_activity(page: str) -> bool:
        """A page of a multi-page activity (a folder with an index.html above it)."""
        path = PurePosixPath(page)
        above = [str(a) for a in path.parents]  # its own folder first, "." last
        if path.name in ("index.html", "index.htm"):
            above = above[1:]
        return any(a in activities for a in above)

    old_by_entry = {r.entry: r for r in previous.resources} if previous else {}
    report_added: list[str] = []
    kept: list[str] = []
    untitled: list[str] = []
    unclassified: list[str] = []
    resources: list[dict[str, Any]] = []
    taken = {r.id for r in old_by_entry.values()}
    assets = 0
    for rel in files:
        kind = _kind(types[rel])
        if kind is None:
            if not types[rel].startswith(_ASSET_TYPES) and rel not in used:
                unclassified.append(rel)
            else:
                assets += 1
            continue
        if (kind == "html" and in_activity(rel)) or (kind != "html" and rel in used):
            assets += 1
            continue
        old = old_by_entry.get(rel)
        if old is not None and old.kind == kind:
            resources.append(old.to_dict())
            kept.append(old.id)
            continue
        title, description = "", ""
        if kind == "html":
            scan = scans[rel]
            title = " ".join((scan.title or scan.h1).split())
        elif kind == "zim":
            title, description = _zim_title(folder / rel)
        if not title:
            stem = PurePosixPath(rel).stem
            if stem in ("index",):
                stem = PurePosixPath(rel).parent.name or stem
            title = _pretty(stem)
            untitled.append(rel)
        path = PurePosixPath(rel)
        whole = slug(str(path.with_suffix("")).replace("/", "-")) or "resource"
        base = whole if path.stem == "index" else (slug(path.stem) or whole)
        rid = base if base not in taken else whole
        n = 2
        while rid in taken:
            rid = f"{base}-{n}"
            n += 1
        taken.add(rid)
        entry: dict[str, Any] = {"id": rid, "kind": kind, "entry": rel,
                                 "title": {"fr": title[:300], "en": title[:300]}}
        if description:
            entry["description"] = {"fr": description[:5000], "en": description[:5000]}
        duration = media_duration(folder / rel, types[rel]) if kind in ("audio",
                                                                        "video") else None
        if duration is not None:
            entry["duration"] = duration
        resources.append(entry)
        report_added.append(rid)
    if not resources:
        raise Invalid(N_("No resource found in %(folder)s: put lessons (HTML), PDFs, pictures, "
                         "recordings or videos in it."), folder=str(folder))
    present = {r["entry"] for r in resources}
    removed = [r.id for e, r in old_by_entry.items() if e not in present]
    manifest = write_manifest(folder, fields, resources)
    return BuildReport(manifest, report_added, kept, removed, untitled, unclassified, assets)


__all__ = ["BuildReport", "build_manifest", "media_duration", "slug"]
