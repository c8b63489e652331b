"""A fake Pi root folder for first-boot tests: boot partition, /sys block devices, /dev."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

from image_builder.firstboot import Paths

SECTOR = 512
MIB_SECTORS = 2048


class RecordingRunner:
    """Stands in for subprocess: records each command, answers with a chosen exit code."""

    def __init__(self, fail: Sequence[str] = ()) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.fail = set(fail)

    def __call__(self, argv: Sequence[str], stdin: str | None = None
                 ) -> subprocess.CompletedProcess[str]:
        self.calls.append((list(argv), stdin))
        code = 1 if argv[0] in self.fail else 0
        return subprocess.CompletedProcess(list(argv), code, "", "boom" if code else "")

    @property
    def programs(self) -> list[str]:
        return [argv[0] for argv, _ in self.calls]


def make_root(tmp: Path, settings: str, *, disk_mib: int = 8192, data_start_mib: int = 1600,
              data_mib: int = 128, model: str = "Raspberry Pi 4 Model B Rev 1.4",
              minimal_firmware: bool = True) -> Paths:
    root = tmp / "root"
    paths = Paths(root=root)
    paths.boot.mkdir(parents=True)
    paths.settings_file.write_text(settings, encoding="utf-8")
    devices = root / "sys/devices/platform/mmc/mmcblk0"
    part = devices / "mmcblk0p3"
    part.mkdir(parents=True)
    (devices / "size").write_text(f"{disk_mib * MIB_SECTORS}\n")
    (part / "partition").write_text("3\n")
    (part / "start").write_text(f"{data_start_mib * MIB_SECTORS}\n")
    # Like the kernel: a partition running past the end of the disk is trimmed in /sys.
    seen_mib = max(0, min(data_mib, disk_mib - data_start_mib))
    (part / "size").write_text(f"{seen_mib * MIB_SECTORS}\n")
    boot = devices / "mmcblk0p1"
    boot.mkdir()
    (boot / "partition").write_text("1\n")
    (boot / "start").write_text(f"{8 * MIB_SECTORS}\n")
    paths.sys_block.mkdir(parents=True)
    (paths.sys_block / "mmcblk0").symlink_to(devices)
    (paths.sys_block / "mmcblk0p3").symlink_to(part)
    (paths.dev / "disk/by-label").mkdir(parents=True)
    (paths.dev / "mmcblk0p3").write_text("")
    # The disk's MBR, which keeps the partition's real extent.
    mbr = bytearray(SECTOR)
    struct.pack_into("<II", mbr, 446 + 16 * 2 + 8, data_start_mib * MIB_SECTORS,
                     data_mib * MIB_SECTORS)
    mbr[510:512] = b"\x55\xaa"
    (paths.dev / "mmcblk0").write_bytes(bytes(mbr))
    (paths.dev / "disk/by-label/ardoise-data").symlink_to("../../mmcblk0p3")
    paths.model_file.parent.mkdir(parents=True)
    paths.model_file.write_bytes(model.encode() + b"\0")
    if minimal_firmware:
        fw = paths.firmware / "cypress/cyfmac43455-sdio-minimal.bin"
        fw.parent.mkdir(parents=True)
        fw.write_bytes(b"fw")
    (paths.etc / "ssh").mkdir(parents=True)
    return paths
