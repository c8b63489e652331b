"""Large photos sent to the central as a smaller JPEG (setting `sync_photo_max_px`).

A tablet's camera makes 3 to 12 MB photos; over a 256 kbit/s link one takes minutes. When
the setting is on, the hub sends a JPEG whose longer side is at most that many pixels
instead, and keeps the original. Only photos Pillow reads (JPEG, PNG, WebP, not animated)
and larger than the limit are shrunk, never enlarged; the camera's orientation (EXIF) is
applied to the pixels, and the metadata (place, device) is left out. Anything else, or a
result that would not be smaller, is sent as it is.

The smaller file has another SHA-256 than the one the rows name, so the central records an
alias (`sync_blob_alias`, see `sync.blobs`). It is made once and kept in
staging/sync-photos/<sha256>.jpg until the central has it, so an upload cut halfway
resumes with the very same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MEDIA_TYPE = "image/jpeg"
QUALITY = 85
FORMATS = ("JPEG", "PNG", "WEBP")
JPEG_MAGIC = b"\xff\xd8\xff"


def smaller_jpeg(path: Path, max_px: int, *, quality: int = QUALITY) -> bytes | None:
    """A JPEG of the photo at `path` whose longer side is `max_px`, or None when the file is
    not a still photo Pillow reads, already fits, or would not get smaller."""
    if max_px <= 0:
        return None
    try:
        with warnings.catch_warnings():
            # big photos are what this is for; JPEG ones are decoded at a reduced scale
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as im:
                if max(im.size) <= max_px or getattr(im, "is_animated", False):
                    return None
                if im.format != "JPEG" and im.size[0] * im.size[1] > (
                        Image.MAX_IMAGE_PIXELS or 0):
                    return None  # no reduced decoding for these: too much memory on a Pi
                im.draft("RGB", (max_px, max_px))  # JPEG: decode at 1/2, 1/4 or 1/8
                shown = ImageOps.exif_transpose(im)
                shown.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
                out = io.BytesIO()
                _flat(shown).save(out, "JPEG", quality=quality, optimize=True)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        return None  # not a photo we can read: sent as it is
    data = out.getvalue()
    return data if len(data) < path.stat().st_size else None


def _flat(im: Image.Image) -> Image.Image:
    """RGB or grey pixels (JPEG has no transparency: it becomes white)."""
    if im.mode in ("RGB", "L"):
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im.convert("RGB")


@dataclass(frozen=True)
class SmallerForm:
    """What is sent instead of a file: the JPEG's path and SHA-256."""

    path: Path
    sha256: str


class PhotoShrinker:
    """Makes (once) and remembers the smaller form of each photo until it is sent."""

    def __init__(self, data_dir: Path, max_px: int) -> None:
        self.folder = Path(data_dir) / "staging" / "sync-photos"
        self.max_px = max_px

    def cached(self, sha: str) -> SmallerForm | None:
        """The smaller form made by an earlier attempt, if any."""
        path = self.folder / f"{sha}.jpg"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return SmallerForm(path, hashlib.sha256(data).hexdigest())

    def __call__(self, sha: str, original: Path) -> SmallerForm | None:
        """The smaller form of the file `sha` stored at `original`, or None: send it whole."""
        if self.max_px <= 0:
            return None
        found = self.cached(sha)
        if found is not None:
            return found
        data = smaller_jpeg(original, self.max_px)
        if data is None:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{sha}.jpg"
        tmp = path.with_name(f".{sha}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:  # durable before it is named: sent bytes must not change
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return SmallerForm(path, hashlib.sha256(data).hexdigest())

    def forget(self, sha: str) -> None:
        """The central has the file: its smaller form is no longer needed here."""
        (self.folder / f"{sha}.jpg").unlink(missing_ok=True)


__all__ = ["JPEG_MAGIC", "MEDIA_TYPE", "PhotoShrinker", "SmallerForm", "smaller_jpeg"]
