"""The tiny test image: the card layout and the first-boot code of the real image, on a
root small enough to build in seconds without emulation and boot in seconds under
`qemu-system-aarch64 -M virt`, or in under a minute as a Raspberry Pi 3 (`-M raspi3b`,
the card on the Pi's SD controller, the Pi 3 device tree from the same kernel package).

Root: Debian arm64 packages unpacked, not installed (busybox-static for the shell tools,
python3 with `cryptography`, and the fdisk/util-linux/e2fsprogs programs the resize step
runs), plus `image_builder` itself copied from this source tree. Its init stands in for
systemd: it mounts the boot and data partitions by label as the image's fstab does, runs
`python3 -m image_builder.firstboot` as `ardoise-firstboot.service` does, and powers off.
The partitions are assembled by `image_builder.partitions`, like a full build's.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ardoise.i18n import N_
from image_builder import extract, initramfs, partitions
from image_builder.emulator import BOARDS, VIRT, Board, Machine
from image_builder.errors import BuildFailed

PROJECT = Path(__file__).resolve().parents[1]
PACKAGES = ("busybox-static", "python3-minimal", "python3-cryptography", "fdisk",
            "util-linux", "e2fsprogs")
LIB = "opt/ardoise/lib"
INIT = "sbin/ardoise-tiny-init"

INIT_SCRIPT = f"""#!/bin/busybox sh
# Tiny test image: stands in for systemd. Mounts what /etc/fstab mounts, runs first boot as
# ardoise-firstboot.service does, then powers off cleanly.
/bin/busybox mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
/bin/busybox mkdir -p /run/busybox
/bin/busybox --install -s /run/busybox
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/run/busybox
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o nosuid,nodev tmpfs /tmp
mkdir -p /dev/disk/by-label
for label in {partitions.BOOT_LABEL} {partitions.ROOT_LABEL} {partitions.DATA_LABEL}; do
  dev="$(findfs LABEL=$label)" && ln -sf "../../${{dev#/dev/}}" "/dev/disk/by-label/$label"
  echo "ardoise-tiny: LABEL=$label is $dev at $(readlink -f /sys/class/block/${{dev#/dev/}})"
done
mount -t vfat -o noatime,umask=0077 /dev/disk/by-label/{partitions.BOOT_LABEL} /boot/firmware
mount -t ext4 -o noatime,nodev,nosuid /dev/disk/by-label/{partitions.DATA_LABEL} \\
  /var/lib/ardoise
echo "ardoise-tiny: starting first boot"
PYTHONPATH=/{LIB} python3 -m image_builder.firstboot
echo "ardoise-tiny: first boot exited with status $?"
sync
umount /var/lib/ardoise
umount /boot/firmware
mount -o remount,ro /
sync
echo "ardoise-tiny: powering off"
poweroff -f
"""


def kernel_args(board: Board = VIRT) -> str:
    """The command line the Pi's cmdline.txt would carry, with the board's console."""
    return (f"console={board.console} root=LABEL={partitions.ROOT_LABEL} rw init=/{INIT} "
            "panic=-1 loglevel=4")


APPEND = kernel_args(VIRT)


@dataclass(frozen=True)
class TinyImage:
    image: Path
    layout: partitions.Layout
    machine: Machine


def _first_boot_sources(dest: Path) -> None:
    """image_builder's Python files and the compiled message catalogues: what first boot
    needs, and nothing of Flask or Babel."""
    pkg = PROJECT / "image_builder"
    for src in pkg.rglob("*.py"):
        target = dest / "image_builder" / src.relative_to(pkg)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, target)
    translations = PROJECT / "ardoise/translations"
    for mo in translations.rglob("*.mo"):
        target = dest / "ardoise/translations" / mo.relative_to(translations)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(mo, target)


def make_root(userland: Path, root: Path) -> None:
    """The tiny root file system tree: the unpacked userland plus first boot and its init."""
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["cp", "-a", "--reflink=auto", str(userland), str(root)],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise BuildFailed(N_("%(command)s failed: %(output)s"), command="cp",
                          output=res.stderr.strip()[-600:])
    (root / ".complete").unlink(missing_ok=True)
    shutil.rmtree(root / "dev", ignore_errors=True)
    for folder in ("dev", "proc", "sys", "run", "tmp", "boot/firmware", "var/lib/ardoise",
                   "etc/ssh", "root"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    _first_boot_sources(root / LIB)
    (root / "etc/fstab").unlink(missing_ok=True)
    (root / "etc/fstab").write_text(partitions.fstab())
    (root / "etc/mtab").unlink(missing_ok=True)
    (root / "etc/mtab").symlink_to("/proc/self/mounts")  # resize2fs looks for mounts here
    init = root / INIT
    init.unlink(missing_ok=True)
    init.write_text(INIT_SCRIPT)
    init.chmod(0o755)


def device_tree(kernel: extract.Kernel, board: Board) -> Path | None:
    """The board's device tree as the kernel package ships it (what the Pi's firmware
    would load from the boot partition), or None for a board that needs none."""
    if board.device_tree is None:
        return None
    tree = kernel.image.parents[1] / "usr/lib" / f"linux-image-{kernel.version}"
    dtb = tree / board.device_tree
    if not dtb.is_file():
        raise BuildFailed(N_("The kernel package has no device tree %(path)s."),
                          path=str(dtb))
    return dtb


def build(out_dir: Path, settings: bytes, cache: Path, suite: str, mirror: str,
          card_extra_mib: int = 64, board: str = VIRT.name) -> TinyImage:
    """Assemble `out_dir/tiny.img` with `settings` as the boot partition's ardoise.toml,
    on a "card" `card_extra_mib` larger than the image (negative: a card too small),
    rounded up to a size the board accepts (a power of two on raspi3b)."""
    model = BOARDS[board]
    kernel = extract.debian_kernel(cache, suite, mirror)
    dtb = device_tree(kernel, model)
    userland = extract.cached_unpack(cache, "tiny-root", PACKAGES, suite, mirror)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / "work"
    root, boot, data = work / "root", work / "boot", work / "data"
    make_root(userland, root)
    boot.mkdir(parents=True, exist_ok=True)
    (boot / "ardoise.toml").write_bytes(settings)
    data.mkdir(parents=True, exist_ok=True)
    initrd = initramfs.build_initramfs(out_dir / "initrd.img", userland / "bin/busybox",
                                       kernel.modules, initramfs.BOARD_MODULES[board],
                                       work=work / "initramfs")
    layout = partitions.plan(64, root, 16, data, 32)
    image = out_dir / "tiny.img"
    partitions.assemble(image, layout, boot, root, data, work / "parts")
    with open(image, "r+b") as fh:  # the card the image is copied onto
        fh.truncate(model.card_size((layout.total_mib + card_extra_mib) * partitions.MIB))
    shutil.rmtree(work, ignore_errors=True)
    machine = Machine(kernel.image, initrd, image, kernel_args(model), board=board, dtb=dtb)
    return TinyImage(image, layout, machine)


__all__ = ["APPEND", "PACKAGES", "TinyImage", "build", "device_tree", "kernel_args",
           "make_root"]
