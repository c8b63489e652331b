"""Grow the data partition (the last one) to fill the card, or refuse without touching it.

The image is flashed onto cards of any size; the data partition is small in the image and
grows here. A card smaller than the image (the copy was cut short) shows as a partition
ending past the end of the disk: nothing is written then. The kernel trims such a
partition to the end of the disk in /sys (and its ext4 then fails to mount), so the
partition's real extent is read from the partition table on the disk itself.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from image_builder.firstboot.system import Paths, Runner
from image_builder.messages import N_

DATA_LABEL = "ardoise-data"
SECTOR = 512
# Growing by less than this is not worth a partition-table write.
MIN_GROWTH_SECTORS = 16 * 1024 * 1024 // SECTOR


class ResizeError(Exception):
    """A refusal, with an English message id and its parameters."""

    def __init__(self, message: str, card_too_small: bool = False, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params
        self.card_too_small = card_too_small


@dataclass(frozen=True)
class Layout:
    disk: str  # e.g. mmcblk0
    partition: str  # e.g. mmcblk0p3
    number: int
    start: int  # sectors
    size: int
    disk_size: int

    @property
    def end(self) -> int:
        return self.start + self.size


def table_entry(disk: Path, number: int) -> tuple[int, int] | None:
    """(start, size) in sectors of primary partition `number` as the MBR on `disk` records
    it, or None when the disk cannot be read or has no MBR."""
    try:
        with open(disk, "rb") as fh:
            mbr = fh.read(SECTOR)
    except OSError:
        return None
    if len(mbr) < SECTOR or mbr[510:512] != b"\x55\xaa" or not 1 <= number <= 4:
        return None
    start, size = struct.unpack_from("<II", mbr, 446 + 16 * (number - 1) + 8)
    return start, size


def find_layout(paths: Paths, label: str = DATA_LABEL) -> Layout:
    """Locate the data partition by label, then its disk and sizes in /sys, its size as
    the partition table records it (/sys shows a partition trimmed at the disk's end)."""
    link = paths.dev / "disk" / "by-label" / label
    if not link.exists():
        raise ResizeError(N_("No partition labelled %(label)s was found."), label=label)
    part = Path(link.resolve()).name
    sysdir = paths.sys_block / part
    if not (sysdir / "partition").is_file():
        raise ResizeError(N_("%(part)s is not a partition."), part=part)
    disk = Path((sysdir / "..").resolve()).name
    number = int((sysdir / "partition").read_text())
    start = int((sysdir / "start").read_text())
    size = int((sysdir / "size").read_text())
    disk_size = int((paths.sys_block / disk / "size").read_text())
    entry = table_entry(paths.dev / disk, number)
    if entry is not None and entry[0] == start:
        size = max(size, entry[1])
    return Layout(disk, part, number, start, size, disk_size)


def check_fits(layout: Layout) -> None:
    """Refuse a card smaller than the image, naming both sizes."""
    if layout.end > layout.disk_size:
        raise ResizeError(
            N_("The card is smaller than the image (%(card)s MiB, the image needs "
               "%(image)s MiB): the copy was cut short. Flash a card of at least %(image)s "
               "MiB; nothing was changed."), card_too_small=True,
            card=layout.disk_size * SECTOR // 2**20, image=layout.end * SECTOR // 2**20)


def grow_data_partition(paths: Paths, run: Runner, label: str = DATA_LABEL) -> int:
    """Grow the partition and its ext4 file system; returns the new size in MiB.

    Works on the mounted file system (ext4 grows online), so nothing needs unmounting.
    """
    layout = find_layout(paths, label)
    check_fits(layout)
    others = [p for p in (paths.sys_block / layout.disk).glob(f"{layout.disk}*")
              if p.name != layout.partition and (p / "start").is_file()
              and int((p / "start").read_text()) > layout.start]
    if others:
        raise ResizeError(N_("The data partition is not the last one on the card; it is "
                             "left as it is."))
    free = layout.disk_size - layout.end
    if free >= MIN_GROWTH_SECTORS:
        disk = str(paths.dev / layout.disk)
        steps: list[tuple[list[str], str | None]] = [
            (["sfdisk", "--no-reread", "--no-tell-kernel", "-N", str(layout.number), disk],
             ", +\n"),
            (["partx", "-u", "--nr", str(layout.number), disk], None),
            (["resize2fs", str(paths.dev / layout.partition)], None),
        ]
        for argv, stdin in steps:
            result = run(argv, stdin)
            if result.returncode != 0:
                raise ResizeError(N_("%(command)s failed: %(output)s"), command=argv[0],
                                  output=(result.stderr or result.stdout).strip()[-300:])
        return (layout.disk_size - layout.start) * SECTOR // 2**20
    return layout.size * SECTOR // 2**20


__all__ = ["DATA_LABEL", "Layout", "ResizeError", "check_fits", "find_layout",
           "grow_data_partition", "table_entry"]
