"""The card layout and its assembly into an image file, without loop devices or root.

MBR (the Pi firmware boots from it on every model, and it has no backup header at the
end of the disk, so the image can be copied to a larger card as it is):

  1  FAT32  boot: firmware, kernel, ardoise.toml        (mkfs.vfat -F 32 -s 4 + mtools)
  2  ext4   root: the system and the hub                (mkfs.ext4 -d DIR at an offset)
  3  ext4   data: /var/lib/ardoise, grown on first boot  (mkfs.ext4 -d DIR at an offset)

The FAT file system is made in a separate file and copied in (mtools cannot make one at an
offset); the ext4 ones are written straight into the image with `-E offset=`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ardoise.i18n import N_
from image_builder.errors import BuildFailed
from image_builder.prereq import which

MIB = 1024 * 1024
SECTOR = 512
FIRST_MIB = 4  # room for the MBR; partitions on 4 MiB boundaries suit SD erase blocks
BOOT_LABEL = "ARDOISEBOOT"
ROOT_LABEL = "ardoise-root"
DATA_LABEL = "ardoise-data"


@dataclass(frozen=True)
class Layout:
    boot_mib: int
    root_mib: int
    data_mib: int

    @property
    def boot_start_mib(self) -> int:
        return FIRST_MIB

    @property
    def root_start_mib(self) -> int:
        return _align(self.boot_start_mib + self.boot_mib)

    @property
    def data_start_mib(self) -> int:
        return _align(self.root_start_mib + self.root_mib)

    @property
    def total_mib(self) -> int:
        return self.data_start_mib + self.data_mib

    def sfdisk_script(self) -> str:
        s = MIB // SECTOR
        return "\n".join([
            "label: dos",
            "unit: sectors",
            f"start={self.boot_start_mib * s}, size={self.boot_mib * s}, type=c, bootable",
            f"start={self.root_start_mib * s}, size={self.root_mib * s}, type=83",
            f"start={self.data_start_mib * s}, size={self.data_mib * s}, type=83",
            ""])


def _align(mib: int) -> int:
    return -(-mib // FIRST_MIB) * FIRST_MIB


def tree_mib(folder: Path) -> int:
    """Space a folder takes in ext4: file blocks plus one inode and block per entry."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [*dirnames, *filenames]:
            st = os.lstat(os.path.join(dirpath, name))
            total += -(-st.st_size // 4096) * 4096 + 4096
    return -(-total // MIB)


def plan(boot_mib: int, root_dir: Path, root_extra_mib: int, data_dir: Path | None,
         data_mib: int) -> Layout:
    """Size the root to its content (+ 10 % for ext4 metadata, + the requested free space)
    and the data partition to its content or the requested minimum, whichever is larger."""
    root = _align(int(tree_mib(root_dir) * 1.1) + 16 + root_extra_mib)
    data = max(data_mib, _align(int(tree_mib(data_dir) * 1.1) + 16)) if data_dir else data_mib
    return Layout(boot_mib, root, data)


def _run(argv: Sequence[str], stdin: str | None = None) -> None:
    tool = which(argv[0]) or argv[0]
    result = subprocess.run([tool, *argv[1:]], input=stdin, text=True, capture_output=True,
                            check=False)
    if result.returncode != 0:
        raise BuildFailed(N_("%(command)s failed: %(output)s"), command=" ".join(argv),
                          output=(result.stderr or result.stdout).strip()[-600:])


def fat_cluster_sectors(size_mib: int) -> int:
    """Sectors per cluster: as large as possible (up to 4 KiB) while keeping the cluster
    count well inside FAT32's range (>= 65525), where mtools reads it as FAT32."""
    sectors = 1
    while sectors < 8 and size_mib * 2048 // (sectors * 2) >= 65600:
        sectors *= 2
    return sectors


def make_fat(path: Path, size_mib: int, source: Path, label: str = BOOT_LABEL) -> None:
    """A FAT32 file system holding `source`'s files. A 256 MiB volume gets `-s 4`: with
    mkfs's default cluster size mtools reads it as FAT16 and runs out of directory slots."""
    path.unlink(missing_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size_mib * MIB)
    _run(["mkfs.vfat", "-F", "32", "-s", str(fat_cluster_sectors(size_mib)), "-n", label,
          str(path)])
    entries = sorted(str(p) for p in source.iterdir())
    if entries:
        _run(["mcopy", "-s", "-p", "-m", "-i", str(path), *entries, "::/"])


def make_ext4(image: Path, offset_mib: int, size_mib: int, source: Path, label: str) -> None:
    """An ext4 file system filled from `source` (owners kept), written at an offset."""
    _run(["mkfs.ext4", "-q", "-F", "-L", label, "-d", str(source), "-E",
          f"offset={offset_mib * MIB}", "-O", "^metadata_csum_seed", "-m", "1",
          str(image), f"{size_mib}M"])


def copy_into(src: Path, image: Path, offset_mib: int, chunk: int = 4 * MIB) -> None:
    """Copy a partition file into the image, skipping zero blocks to keep it sparse."""
    zero = bytes(chunk)
    with open(src, "rb") as fin, open(image, "r+b") as fout:
        pos = offset_mib * MIB
        while block := fin.read(chunk):
            if block != zero[:len(block)]:
                fout.seek(pos)
                fout.write(block)
            pos += len(block)


def assemble(image: Path, layout: Layout, boot_dir: Path, root_dir: Path,
             data_dir: Path, work: Path) -> None:
    """Write the whole image: partition table, then each file system. The image is built
    under a temporary name and renamed at the end, so a failure leaves no half image."""
    tmp = image.with_name(image.name + ".part")
    tmp.unlink(missing_ok=True)
    with open(tmp, "wb") as fh:
        fh.truncate(layout.total_mib * MIB)
    try:
        _run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", str(tmp)],
             layout.sfdisk_script())
        work.mkdir(parents=True, exist_ok=True)
        fat = work / "boot.vfat"
        make_fat(fat, layout.boot_mib, boot_dir)
        copy_into(fat, tmp, layout.boot_start_mib)
        fat.unlink()
        make_ext4(tmp, layout.root_start_mib, layout.root_mib, root_dir, ROOT_LABEL)
        make_ext4(tmp, layout.data_start_mib, layout.data_mib, data_dir, DATA_LABEL)
        os.replace(tmp, image)
    finally:
        tmp.unlink(missing_ok=True)


def fstab() -> str:
    """Mounts by label, so the same image works on SD, USB and under emulation."""
    return "\n".join([
        f"LABEL={ROOT_LABEL}  /                ext4  defaults,noatime,commit=60  0 1",
        f"LABEL={BOOT_LABEL}   /boot/firmware   vfat  defaults,noatime,umask=0077,"
        "x-systemd.device-timeout=60s  0 2",
        # nofail: on a card too small for the image this ext4 does not mount; the boot
        # goes on so first boot can say so on the card and on the lights.
        f"LABEL={DATA_LABEL}  /var/lib/ardoise ext4  defaults,noatime,nodev,nosuid,nofail,"
        "x-systemd.device-timeout=60s  0 2",
        "tmpfs /tmp tmpfs defaults,nosuid,nodev,size=64M 0 0",
        ""])


__all__ = ["BOOT_LABEL", "DATA_LABEL", "ROOT_LABEL", "Layout", "assemble", "fstab",
           "make_ext4", "make_fat", "plan"]
