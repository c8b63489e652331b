"""Reading an image back without mounting it: partitions (sfdisk --json), ext4 files
(debugfs on `image?offset=N`), FAT files (mtools on `image@@N`). Used by the tests and by
anyone checking what a first boot changed on a card image."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from image_builder.prereq import which

SECTOR = 512


@dataclass(frozen=True)
class Partition:
    number: int
    start: int  # bytes
    size: int  # bytes
    type: str


def partitions(image: Path) -> list[Partition]:
    out = subprocess.run([which("sfdisk") or "sfdisk", "--json", str(image)], check=True,
                         capture_output=True, text=True).stdout
    table = json.loads(out)["partitiontable"]
    return [Partition(i, p["start"] * SECTOR, p["size"] * SECTOR, p["type"])
            for i, p in enumerate(table["partitions"], 1)]


def _part(image: Path, number: int) -> Partition:
    return partitions(image)[number - 1]


def ext4_read(image: Path, number: int, path: str) -> bytes | None:
    """A file's bytes from an ext4 partition, or None when it does not exist."""
    spec = f"{image}?offset={_part(image, number).start}"
    res = subprocess.run([which("debugfs") or "debugfs", "-R", f"cat {path}", spec],
                         capture_output=True, check=False)
    if res.returncode != 0 or b"File not found" in res.stderr:
        return None
    return res.stdout


def ext4_list(image: Path, number: int, folder: str) -> list[str]:
    spec = f"{image}?offset={_part(image, number).start}"
    res = subprocess.run([which("debugfs") or "debugfs", "-R", f"ls -p {folder}", spec],
                         capture_output=True, text=True, check=False)
    names = [line.split("/")[5] for line in res.stdout.splitlines() if line.count("/") >= 6]
    return [n for n in names if n not in (".", "..")]


def ext4_stat(image: Path, number: int, path: str) -> str:
    spec = f"{image}?offset={_part(image, number).start}"
    return subprocess.run([which("debugfs") or "debugfs", "-R", f"stat {path}", spec],
                          capture_output=True, text=True, check=False).stdout


def ext4_block_count(image: Path, number: int) -> int:
    spec = f"{image}?offset={_part(image, number).start}"
    out = subprocess.run([which("dumpe2fs") or "dumpe2fs", "-h", spec], capture_output=True,
                         text=True, check=True).stdout
    return next(int(line.split(":")[1]) for line in out.splitlines()
                if line.startswith("Block count:"))


def fat_read(image: Path, path: str, number: int = 1) -> bytes | None:
    spec = f"{image}@@{_part(image, number).start}"
    res = subprocess.run([which("mtype") or "mtype", "-i", spec, f"::{path}"],
                         capture_output=True, check=False)
    return res.stdout if res.returncode == 0 else None


def fat_list(image: Path, number: int = 1) -> list[str]:
    spec = f"{image}@@{_part(image, number).start}"
    res = subprocess.run([which("mdir") or "mdir", "-b", "-i", spec, "::/"],
                         capture_output=True, text=True, check=False)
    return sorted(line.rsplit("/", 1)[-1] for line in res.stdout.splitlines() if line)


def fat_extract(image: Path, path: str, dest: Path, number: int = 1) -> None:
    """Copy a file out of the boot partition (a kernel, say) byte for byte."""
    spec = f"{image}@@{_part(image, number).start}"
    subprocess.run([which("mcopy") or "mcopy", "-n", "-i", spec, f"::{path}", str(dest)],
                   check=True, capture_output=True)


def fat_write(image: Path, path: str, data: bytes, number: int = 1) -> None:
    """Put a file on the boot partition, as a technician does from a laptop."""
    import tempfile

    spec = f"{image}@@{_part(image, number).start}"
    with tempfile.NamedTemporaryFile() as tmp:
        tmp.write(data)
        tmp.flush()
        subprocess.run([which("mcopy") or "mcopy", "-o", "-i", spec, tmp.name, f"::{path}"],
                       check=True, capture_output=True)


__all__ = ["Partition", "ext4_block_count", "ext4_list", "ext4_read", "ext4_stat",
           "fat_extract", "fat_list", "fat_read", "fat_write", "partitions"]
