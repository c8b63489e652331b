"""What the build machine needs before a build starts: tools (named by Debian package) and
disk space (with the sizes). Checked by `--check` and again before every build, so a build
never stops half-way for a reason known in advance."""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ardoise.i18n import N_
from image_builder.build_config import BuildConfig
from image_builder.errors import PrerequisiteMissing

# tool -> Debian package that provides it
TOOLS: dict[str, str] = {
    "sfdisk": "fdisk",
    "mkfs.vfat": "dosfstools",
    "mcopy": "mtools",
    "mkfs.ext4": "e2fsprogs",
    "debugfs": "e2fsprogs",
    "e2fsck": "e2fsprogs",
    "xz": "xz-utils",
    "zstd": "zstd",
    "bmaptool": "bmap-tools",
    "mmdebstrap": "mmdebstrap",
    "qemu-aarch64-static": "qemu-user-static",
    "update-binfmts": "binfmt-support",
    "qemu-system-aarch64": "qemu-system-arm",
    "cpio": "cpio",
}

ASSEMBLY_TOOLS = ("sfdisk", "mkfs.vfat", "mcopy", "mkfs.ext4", "debugfs", "e2fsck")
BOOTSTRAP_TOOLS = ("mmdebstrap",)
EMULATION_TOOLS = ("qemu-aarch64-static", "update-binfmts")
TINY_TOOLS = (*ASSEMBLY_TOOLS, "mmdebstrap", "cpio", "qemu-system-aarch64")

MIB = 1024 * 1024
# A bookworm root with the hub is about 1.2 GB; the bootstrap tree, the image and its
# compressed copy exist side by side at the end of a build.
ROOT_ESTIMATE_MIB = 1400


def tools_for(config: BuildConfig, machine: str | None = None) -> list[str]:
    tools = [*ASSEMBLY_TOOLS, *BOOTSTRAP_TOOLS]
    if (machine or platform.machine()) not in ("aarch64", "arm64"):
        tools += EMULATION_TOOLS
    if config.compress != "none":
        tools.append(config.compress)
    if config.bmap:
        tools.append("bmaptool")
    return tools


def which(tool: str) -> str | None:
    """shutil.which, also looking in the sbin folders a non-root PATH often lacks."""
    path = os.environ.get("PATH", os.defpath) + ":/usr/sbin:/sbin"
    return shutil.which(tool, path=path)


def missing_tools(tools: Iterable[str], which: Callable[[str], str | None] = which
                  ) -> list[str]:
    return [t for t in dict.fromkeys(tools) if which(t) is None]


def require_tools(tools: Iterable[str], which: Callable[[str], str | None] = which
                  ) -> None:
    missing = missing_tools(tools, which)
    if missing:
        packages = sorted({TOOLS.get(t, t) for t in missing})
        raise PrerequisiteMissing(
            N_("Missing tools on this machine: %(tools)s. Install them with: "
               "apt-get install %(packages)s"),
            tools=", ".join(missing), packages=" ".join(packages))


@dataclass(frozen=True)
class DiskNeed:
    path: Path
    needed_mib: int


def disk_needs(config: BuildConfig, out_dir: Path, cache_dir: Path,
               packs_mib: int = 0) -> list[DiskNeed]:
    image = config.boot_mib + ROOT_ESTIMATE_MIB + config.root_extra_mib + config.data_mib \
        + packs_mib
    compressed = image // 3 if config.compress != "none" else 0
    return [DiskNeed(out_dir, image + compressed), DiskNeed(cache_dir, ROOT_ESTIMATE_MIB * 2)]


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def require_disk(needs: Iterable[DiskNeed],
                 free_bytes: Callable[[Path], int] = lambda p: shutil.disk_usage(p).free
                 ) -> None:
    """Sum needs per file system and refuse before starting if any falls short."""
    per_fs: dict[int, tuple[Path, int]] = {}
    for need in needs:
        where = _existing(need.path)
        dev = where.stat().st_dev
        prev = per_fs.get(dev, (where, 0))
        per_fs[dev] = (prev[0], prev[1] + need.needed_mib)
    for where, needed in per_fs.values():
        free = free_bytes(where) // MIB
        if free < needed:
            raise PrerequisiteMissing(
                N_("Not enough disk space in %(path)s: the build needs about %(needed)s MiB "
                   "and %(free)s MiB are free. Free some space or choose another --out or "
                   "--cache folder."), path=str(where), needed=needed, free=free)


__all__ = ["TOOLS", "disk_needs", "missing_tools", "require_disk", "require_tools",
           "tools_for"]
