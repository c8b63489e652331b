"""Pieces of the full build that need no emulation: password check, fstab, the test
initramfs's module order, the emulator's command line."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from image_builder import initramfs, partitions, pipeline
from image_builder.emulator import Machine
from image_builder.errors import BuildFailed


def test_every_account_must_be_locked(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/shadow").write_text(
        "root:!*:19000:0:99999:7:::\n"
        "daemon:*:19000:0:99999:7:::\n"
        "pi:$y$j9T$abc$def:19000:0:99999:7:::\n"
        "guest::19000:0:99999:7:::\n"  # empty: opens without any password
        "ardoise:!:19000::::::\n")
    assert pipeline.check_no_passwords(tmp_path) == ["pi", "guest"]


def test_fstab_keeps_writes_off_the_root_and_lets_first_boot_report() -> None:
    lines = {line.split()[1]: line.split() for line in partitions.fstab().splitlines()
             if line and not line.lstrip().startswith("#")}
    assert "noatime" in lines["/"][3] and "commit=60" in lines["/"][3]
    assert lines["/tmp"][0] == "tmpfs"
    assert "nofail" in lines["/var/lib/ardoise"][3]  # a card too small still boots
    assert "umask=0077" in lines["/boot/firmware"][3]  # secrets on the card: root only


def _module(path: Path, depends: str) -> None:
    """A minimal 64-bit ELF with a .modinfo section, as the kernel's .ko files have."""
    names = b"\0.shstrtab\0.modinfo\0"
    modinfo = f"license=GPL\0depends={depends}\0name={path.stem}\0".encode()
    header_size, sh_size = 64, 64
    names_off = header_size
    info_off = names_off + len(names)
    shoff = info_off + len(modinfo)
    head = bytearray(header_size)
    head[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", head, 0x28, shoff)
    struct.pack_into("<HHH", head, 0x3A, sh_size, 3, 1)
    sections = bytearray(sh_size * 3)
    struct.pack_into("<I", sections, sh_size * 1, 1)
    struct.pack_into("<QQ", sections, sh_size * 1 + 0x18, names_off, len(names))
    struct.pack_into("<I", sections, sh_size * 2, 11)
    struct.pack_into("<QQ", sections, sh_size * 2 + 0x18, info_off, len(modinfo))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(head) + names + modinfo + bytes(sections))


def test_module_order_puts_dependencies_first(tmp_path: Path) -> None:
    mods = tmp_path / "lib/modules/6.1.0-arm64"
    _module(mods / "kernel/fs/ext4/ext4.ko", "jbd2,mbcache,crc16")
    _module(mods / "kernel/fs/jbd2/jbd2.ko", "")
    _module(mods / "kernel/fs/mbcache.ko", "")
    _module(mods / "kernel/drivers/virtio/virtio_pci.ko", "virtio_pci_modern_dev")
    _module(mods / "kernel/drivers/virtio/virtio_pci_modern_dev.ko", "")
    _module(mods / "kernel/drivers/char/hw_random/virtio-rng.ko", "")
    (mods / "modules.builtin").write_text("kernel/lib/crc16.ko\n")
    order = [p.name for p in initramfs.module_order(mods, ["ext4", "virtio_pci",
                                                           "virtio_rng", "ext4"])]
    assert order == ["jbd2.ko", "mbcache.ko", "ext4.ko", "virtio_pci_modern_dev.ko",
                     "virtio_pci.ko", "virtio-rng.ko"]
    with pytest.raises(BuildFailed, match="vfat is not in"):
        initramfs.module_order(mods, ["vfat"])


def test_module_loop_is_reported(tmp_path: Path) -> None:
    mods = tmp_path / "mods"
    _module(mods / "a.ko", "b")
    _module(mods / "b.ko", "a")
    with pytest.raises(BuildFailed, match="loop: a -> b -> a"):
        initramfs.module_order(mods, ["a"])


def test_emulator_network_is_loopback_only(tmp_path: Path) -> None:
    machine = Machine(tmp_path / "vmlinuz", tmp_path / "initrd", tmp_path / "card.img",
                      "console=ttyAMA0", forward={18080: 80})
    argv = machine.argv()
    netdev = argv[argv.index("-netdev") + 1]
    assert "restrict=on" in netdev and "hostfwd=tcp:127.0.0.1:18080-:80" in netdev
    assert "virtio-net-pci,netdev=net0,romfile=" in argv
    alone = Machine(tmp_path / "vmlinuz", tmp_path / "initrd", tmp_path / "card.img", "")
    assert "-netdev" not in alone.argv() and "none" in alone.argv()
