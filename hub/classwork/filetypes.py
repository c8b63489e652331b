"""What a student may hand in, decided by the file's first bytes, and safe file names.

Tablets name files whatever they like ("image.jpg" for a HEIC photo, "blob" for a
recording) and a renamed text file must not pass for a photo, so the type comes from the
content's magic bytes, never from the name or the browser's declared type. Only types a
browser shows safely are accepted (no HTML, SVG or scripts), and files are served back
with the type found here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ardoise.errors import UnsupportedType
from ardoise.i18n import N_

#: How many leading bytes `sniff` needs to decide.
SNIFF_BYTES = 4096


@dataclass(frozen=True)
class FileType:
    media_type: str
    extensions: tuple[str, ...]  # the first one is added when a name lacks a fitting one
    kind: str  # "image", "audio" or "pdf": how pages show it

    @property
    def extension(self) -> str:
        return self.extensions[0]


JPEG = FileType("image/jpeg", (".jpg", ".jpeg", ".jpe"), "image")
PNG = FileType("image/png", (".png",), "image")
GIF = FileType("image/gif", (".gif",), "image")
WEBP = FileType("image/webp", (".webp",), "image")
HEIC = FileType("image/heic", (".heic", ".heif"), "image")
HEIF = FileType("image/heif", (".heif", ".heic"), "image")
WEBM = FileType("audio/webm", (".webm", ".weba"), "audio")
OGG = FileType("audio/ogg", (".ogg", ".oga", ".opus"), "audio")
MP4 = FileType("audio/mp4", (".m4a", ".mp4", ".m4b", ".3gp"), "audio")
MPEG = FileType("audio/mpeg", (".mp3", ".mpga"), "audio")
WAV = FileType("audio/wav", (".wav",), "audio")
AAC = FileType("audio/aac", (".aac", ".adts"), "audio")
PDF = FileType("application/pdf", (".pdf",), "pdf")

ACCEPTED: tuple[FileType, ...] = (JPEG, PNG, WEBP, HEIC, HEIF, GIF,
                                  WEBM, OGG, MP4, MPEG, WAV, AAC, PDF)

#: For <input accept>: the browser offers the camera, the recorder and files.
ACCEPT_ATTRIBUTE = "image/*,audio/*,application/pdf"

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_BRANDS = {b"mif1", b"msf1"}
# AVIF and video-only brands share the ISO container: refuse them rather than guess.
_NOT_AUDIO_BRANDS = {b"avif", b"avis", b"qt  ", b"crx "}


def _iso_bmff(head: bytes) -> FileType | None:
    """HEIC/HEIF photos and MP4/M4A recordings share the ISO base media container."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    major = head[8:12]
    box_size = int.from_bytes(head[0:4], "big")
    compatible = [head[i:i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)]
    brands = {major, *compatible}
    if major in _HEIC_BRANDS:
        return HEIC
    if major in _HEIF_BRANDS:
        return HEIC if brands & _HEIC_BRANDS else (None if b"avif" in brands else HEIF)
    if major in _NOT_AUDIO_BRANDS:
        return None
    return MP4


def _mpeg_frame(head: bytes) -> FileType | None:
    """MP3 frames and AAC ADTS frames both start with a run of set sync bits."""
    if len(head) < 2 or head[0] != 0xFF:
        return None
    if head[1] & 0xF6 == 0xF0:  # 12 sync bits, layer 00: ADTS
        return AAC
    if head[1] & 0xE0 == 0xE0 and (head[1] >> 1) & 0b11 != 0:  # 11 sync bits, a layer
        return MPEG
    return None


def sniff(head: bytes) -> FileType | None:
    """The accepted type whose signature starts `head`, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM if b"webm" in head[:64] else None  # plain Matroska is a video format
    if head.startswith(b"ID3"):
        return MPEG
    if head.startswith(b"ADIF"):
        return AAC
    if b"%PDF-" in head[:1024]:  # the PDF header may follow a little junk
        return PDF
    return _iso_bmff(head) or _mpeg_frame(head)


def require_accepted(head: bytes, filename: str) -> FileType:
    """The type of an upload, or UnsupportedType (415) listing what the hub accepts."""
    found = sniff(head)
    if found is None:
        raise UnsupportedType(
            N_("%(name)s is not a kind of file the hub accepts. Hand in photos (JPEG, PNG, "
               "WebP, HEIC, GIF), sound recordings (WebM, Ogg, M4A, MP3, WAV, AAC) or PDF "
               "documents."),
            name=filename or "?", accepted=", ".join(t.media_type for t in ACCEPTED))
    return found


_UNSAFE = re.compile(r"[^\w .()+,-]+")
MAX_NAME = 120


def safe_filename(name: str | None, kind: FileType) -> str:
    """A name safe to store and to put in Content-Disposition, ending in a fitting extension.

    Keeps letters of every script (accents), drops folders, control and shell characters,
    and leading dots (no hidden files), and caps the length.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" ._")
    name = re.sub(r"_{2,}", "_", name)
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if "." + ext.lower() not in kind.extensions:
        stem, ext = name, kind.extension[1:]
    stem = (stem or "file")[: MAX_NAME - len(ext) - 1].rstrip(" ._") or "file"
    return f"{stem}.{ext}"
