"""What a build hands over: the image, a compressed copy, SHA-256 sums, a block map for
`bmaptool copy`, and an entry Raspberry Pi Imager can list (`os_list` JSON)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path

from ardoise.i18n import N_
from image_builder.errors import BuildFailed
from image_builder.prereq import which

SUFFIX = {"xz": ".xz", "zstd": ".zst", "none": ""}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(4 * 1024 * 1024):
            h.update(block)
    return h.hexdigest()


def compress(image: Path, method: str, threads: int = 2) -> Path:
    """xz -6 is smaller (Imager and `xzcat | dd` read it); zstd is much faster to make."""
    if method == "none":
        return image
    out = image.with_name(image.name + SUFFIX[method])
    tmp = out.with_name(out.name + ".part")
    argv = {"xz": ["xz", f"-T{threads}", "-6", "-c", str(image)],
            "zstd": ["zstd", f"-T{threads}", "-10", "-q", "-c", str(image)]}[method]
    with open(tmp, "wb") as fh:
        res = subprocess.run(["nice", which(argv[0]) or argv[0], *argv[1:]], stdout=fh,
                             stderr=subprocess.PIPE, check=False)
    if res.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BuildFailed(N_("%(command)s failed: %(output)s"), command=argv[0],
                          output=res.stderr.decode(errors="replace")[-600:])
    tmp.replace(out)
    return out


def bmap(image: Path) -> Path | None:
    """A block map lets `bmaptool copy` skip the empty parts of the card; cheap to make."""
    tool = which("bmaptool")
    if tool is None:
        return None
    out = image.with_name(image.name + ".bmap")
    subprocess.run([tool, "create", "-o", str(out), str(image)], check=True,
                   capture_output=True)
    return out


def write_sums(files: list[Path]) -> Path:
    out = files[0].with_name(files[0].name.split(".img")[0] + ".sha256")
    out.write_text("".join(f"{sha256(f)}  {f.name}\n" for f in files))
    return out


def imager_entry(image: Path, download: Path, name: str, version: str, description: str,
                 url: str, released: dt.date | None = None) -> dict[str, object]:
    """One `os_list` entry (Raspberry Pi Imager repository format, v3)."""
    return {
        "name": f"Ardoise {version}",
        "description": description,
        "url": (url.rstrip("/") + "/" + download.name) if url else download.name,
        "icon": "",
        "release_date": (released or dt.date.today()).isoformat(),
        "extract_size": image.stat().st_size,
        "extract_sha256": sha256(image),
        "image_download_size": download.stat().st_size,
        "image_download_sha256": sha256(download),
        # Debian bookworm's kernel has no Raspberry Pi 5 device tree: 3B/3B+/Zero 2 W, 4/400.
        "devices": ["pi4-64bit", "pi3-64bit"],
        "init_format": "none",
        "website": "",
        "architecture": "armv8",
        "tags": [name],
    }


def write_imager_list(out_dir: Path, entry: dict[str, object]) -> Path:
    path = out_dir / "os_list_imagingutility.json"
    path.write_text(json.dumps({"os_list": [entry]}, indent=2, ensure_ascii=False) + "\n")
    return path


__all__ = ["bmap", "compress", "imager_entry", "sha256", "write_imager_list", "write_sums"]
