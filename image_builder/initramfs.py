"""A small initramfs made on the build machine, for booting test images under
`qemu-system-aarch64` (`-M virt` or `-M raspi3b`) without running anything arm64 at build
time.

Debian's arm64 kernel has the virtio, SD controller, ext4 and vfat drivers as modules, and
an unpacked (not installed) kernel has no `modules.dep`; so the module order is worked out
here from each module's `.modinfo` section. The initramfs holds a static busybox, those
modules and an `/init` that loads them, mounts the root by label (read-only unless the
command line says `rw`) and hands over to the root's `init=` program (systemd or a test
init).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ardoise.i18n import N_
from image_builder.errors import BuildFailed
from image_builder.prereq import which

# Disk and file systems for -M virt (virtio-blk over PCI, the card's ext4 and FAT), the
# virtio NIC for tests that reach the guest's web port, crc32c for ext4 checksums (loaded
# on demand by the kernel through modprobe, which the initramfs has not got), and the
# power button (gpio-keys, evdev) that QEMU's system_powerdown presses for a clean stop.
VIRT_MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "crc32c_generic", "ext4", "vfat",
                "nls_cp437", "nls_ascii", "nls_utf8", "gpio_keys", "evdev")
# A Pi 3's card is on the SDHOST controller (`bcm2835`, the MMC driver; the Arasan SDHCI,
# `sdhci-iproc`, carries the Wi-Fi chip there and the card only on a Pi 4). The watchdog
# (`bcm2835_wdt`) is how the kernel powers a Pi off or restarts it: without it poweroff
# only halts, and QEMU never exits.
RASPI3B_MODULES = ("bcm2835", "bcm2835_wdt", "crc32c_generic", "ext4", "vfat", "nls_cp437",
                   "nls_ascii", "nls_utf8")
BOARD_MODULES = {"virt": VIRT_MODULES, "raspi3b": RASPI3B_MODULES}

INIT = r"""#!/bin/busybox sh
# Test initramfs: load the drivers, mount the root by label, hand over to its init.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/modules/$m" || echo "initramfs: could not load $m"; done \
  < /modules/order
root=""; init=/sbin/init; mode=ro
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root="${arg#root=}" ;;
    init=*) init="${arg#init=}" ;;
    rw) mode=rw ;;
  esac
done
tries=0
while :; do
  case "$root" in
    /dev/*) dev="$root" ;;
    *) dev="$(findfs "$root" 2>/dev/null)" ;;
  esac
  [ -n "$dev" ] && [ -b "$dev" ] && break
  tries=$((tries + 1))
  if [ "$tries" -gt 600 ]; then echo "initramfs: root $root not found"; poweroff -f; fi
  sleep 0.1
done
echo "initramfs: root $root is $dev"
if ! mount -t ext4 -o "$mode" "$dev" /newroot; then
  echo "initramfs: cannot mount $dev"; poweroff -f
fi
mount --move /dev /newroot/dev
umount /sys /proc
exec switch_root /newroot "$init"
"""


def _modinfo(ko: Path) -> dict[str, str]:
    """The key=value strings of a module's `.modinfo` section (64-bit little-endian ELF)."""
    data = ko.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise BuildFailed(N_("%(path)s is not a 64-bit little-endian kernel module."),
                          path=str(ko))
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        base = shoff + i * shentsize
        name, = struct.unpack_from("<I", data, base)
        offset, size = struct.unpack_from("<QQ", data, base + 0x18)
        return name, offset, size

    _, str_off, _ = section(shstrndx)
    for i in range(shnum):
        name, offset, size = section(i)
        end = data.index(b"\0", str_off + name)
        if data[str_off + name:end] == b".modinfo":
            info: dict[str, str] = {}
            for item in data[offset:offset + size].split(b"\0"):
                key, sep, value = item.decode("utf-8", "replace").partition("=")
                if sep:
                    info.setdefault(key, value)
            return info
    return {}


def _norm(name: str) -> str:
    return name.replace("-", "_")


def module_order(modules_dir: Path, wanted: Iterable[str]) -> list[Path]:
    """The `.ko` files for `wanted` and everything they depend on, dependencies first.
    A wanted module built into the kernel (listed in modules.builtin) is skipped."""
    files = {_norm(p.name.removesuffix(".ko")): p for p in modules_dir.rglob("*.ko")}
    builtin = set()
    with_builtin = modules_dir / "modules.builtin"
    if with_builtin.is_file():
        builtin = {_norm(Path(line).name.removesuffix(".ko"))
                   for line in with_builtin.read_text().split()}
    order: list[Path] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        name = _norm(name)
        if name in seen or name in builtin:
            return
        if name in chain:
            raise BuildFailed(N_("Kernel modules depend on each other in a loop: %(chain)s."),
                              chain=" -> ".join((*chain, name)))
        ko = files.get(name)
        if ko is None:
            raise BuildFailed(N_("Kernel module %(module)s is not in %(path)s."),
                              module=name, path=str(modules_dir))
        for dep in filter(None, _modinfo(ko).get("depends", "").split(",")):
            visit(dep, (*chain, name))
        seen.add(name)
        order.append(ko)

    for name in wanted:
        visit(name, ())
    return order


def build_initramfs(out: Path, busybox: Path, modules_dir: Path,
                    modules: Iterable[str] = VIRT_MODULES, work: Path | None = None) -> Path:
    """Write an uncompressed newc cpio archive (every kernel reads those) to `out`."""
    work = work or out.with_name(out.name + ".d")
    shutil.rmtree(work, ignore_errors=True)
    (work / "bin").mkdir(parents=True)
    (work / "modules").mkdir()
    shutil.copy(busybox, work / "bin/busybox")
    (work / "bin/busybox").chmod(0o755)
    (work / "bin/sh").symlink_to("busybox")
    names = []
    for ko in module_order(modules_dir, modules):
        shutil.copy(ko, work / "modules" / ko.name)
        names.append(ko.name)
    (work / "modules/order").write_text("".join(f"{n}\n" for n in names))
    (work / "init").write_text(INIT)
    (work / "init").chmod(0o755)
    entries = sorted(str(p.relative_to(work)) for p in work.rglob("*"))
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as fh:
        res = subprocess.run([which("cpio") or "cpio", "--quiet", "-o", "-H", "newc",
                              "-R", "0:0"], input="\n".join([".", *entries]) + "\n",
                             text=True, stdout=fh,
                             stderr=subprocess.PIPE, cwd=work, check=False)
    shutil.rmtree(work, ignore_errors=True)
    if res.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BuildFailed(N_("%(command)s failed: %(output)s"), command="cpio",
                          output=str(res.stderr)[-600:])
    os.replace(tmp, out)
    return out


__all__ = ["BOARD_MODULES", "INIT", "RASPI3B_MODULES", "VIRT_MODULES", "build_initramfs",
           "module_order"]
