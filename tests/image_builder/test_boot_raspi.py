"""The tiny image booted as a Raspberry Pi 3 (qemu-system-aarch64 -M raspi3b), with the
Pi 3 device tree from the Debian kernel package: the Debian kernel and the test initramfs
find the card's partitions by label on the Pi's SD controller (mmcblk0), and first boot
does there what it does on virtio. One boot, to keep the slow step short.

What it does not show: the Pi's GPU firmware (QEMU loads the kernel itself), the Wi-Fi
chip, USB and the network (see docs/decisions.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from image_builder import extract, inspect, partitions, prereq, tiny
from image_builder.emulator import RASPI3B, VIRT, BootFailed, Machine, Running
from image_builder.firstboot import MARKER_OK
from image_builder.pipeline import host_mirror
from tests.image_builder.test_boot_tiny import SETTINGS, TOKEN, fsck_clean, text

BOOT_SECONDS = 900  # TCG with four emulated cores on a loaded CI machine; 30 to 50 s here
SDHOST = "/sys/devices/platform/soc/3f202000.mmc/"  # the SoC's SD host controller


def test_raspi3b_command_line(tmp_path: Path) -> None:
    """The card on the SD controller, the console on the mini UART, the board's own
    memory and cores, the device tree passed as the firmware would."""
    machine = Machine(tmp_path / "vmlinuz", tmp_path / "initrd", tmp_path / "card.img",
                      "console=ttyS1,115200", board="raspi3b", dtb=tmp_path / "pi3.dtb")
    argv = machine.argv()
    assert argv[argv.index("-M") + 1] == "raspi3b"
    assert argv[argv.index("-m") + 1] == "1024" and argv[argv.index("-smp") + 1] == "4"
    assert argv[argv.index("-dtb") + 1] == str(tmp_path / "pi3.dtb")
    assert f"file={tmp_path / 'card.img'},format=raw,if=sd,cache=unsafe" in argv
    assert "-serial null -serial mon:stdio" in " ".join(argv)
    assert "-cpu" not in argv and "virtio-blk-pci,drive=card" not in argv
    with pytest.raises(BootFailed, match="needs a device tree"):
        Machine(tmp_path / "vmlinuz", tmp_path / "initrd", tmp_path / "card.img", "",
                board="raspi3b").argv()
    with pytest.raises(BootFailed, match="no network card"):
        Machine(tmp_path / "vmlinuz", tmp_path / "initrd", tmp_path / "card.img", "",
                forward={18080: 80}, board="raspi3b", dtb=tmp_path / "pi3.dtb").argv()


def test_raspi3b_cards_are_a_power_of_two() -> None:
    mib = partitions.MIB
    assert RASPI3B.card_size(296 * mib) == 512 * mib
    assert RASPI3B.card_size(512 * mib) == 512 * mib
    assert RASPI3B.card_size(513 * mib) == 1024 * mib
    assert VIRT.card_size(296 * mib) == 296 * mib


@pytest.mark.slow
@pytest.mark.skipif(bool(prereq.missing_tools(prereq.TINY_TOOLS)),
                    reason="needs the tools of script/bootstrap --tests")
def test_first_boot_on_the_pi3_sd_controller(tmp_path: Path) -> None:
    img = tiny.build(tmp_path / "tiny", SETTINGS.encode(), extract.default_cache_dir(),
                     "bookworm", host_mirror(), board="raspi3b")
    card_bytes = img.image.stat().st_size
    # QEMU takes only power-of-two cards: the image was put on one with room to grow
    assert card_bytes & (card_bytes - 1) == 0
    assert card_bytes >= (img.layout.total_mib + 64) * partitions.MIB
    blocks_before = inspect.ext4_block_count(img.image, 3)

    with Running(img.machine, tmp_path / "boot.log") as vm:
        vm.wait_for(MARKER_OK, BOOT_SECONDS)
        assert vm.wait_exit(120) == 0  # powered off through the Pi's watchdog
        console = vm.console()

    # every partition found by label on the SD host controller, as on a Pi 3
    assert f"initramfs: root LABEL={partitions.ROOT_LABEL} is /dev/mmcblk0p2" in console
    for number, label in enumerate((partitions.BOOT_LABEL, partitions.ROOT_LABEL,
                                    partitions.DATA_LABEL), 1):
        assert re.search(rf"LABEL={label} is /dev/mmcblk0p{number} at {re.escape(SDHOST)}",
                         console), label
    assert "first boot exited with status 0" in console

    # the data partition grew to the end of the card, file system included
    data = inspect.partitions(img.image)[2]
    assert data.start + data.size == card_bytes
    assert inspect.ext4_block_count(img.image, 3) > blocks_before
    # secrets gone from the boot partition, the rest of the file kept
    card = text(inspect.fat_read(img.image, "ardoise.toml"))
    assert "tablettes-2026" not in card and TOKEN not in card
    assert 'ssid = "Ardoise 5e"' in card
    # bilingual log written back to the boot partition
    log = text(inspect.fat_read(img.image, "ardoise-firstboot.log"))
    assert "Résultat : le concentrateur est configuré." in log
    assert "Result: the hub is configured." in log
    status = json.loads(text(inspect.ext4_read(img.image, 3, "/status/firstboot.json")))
    assert status["ok"] is True and status["blink_code"] == 0
    assert re.fullmatch(r"[0-9a-f]{64}", text(inspect.ext4_read(img.image, 3, "/secret_key")))
    assert text(inspect.ext4_read(img.image, 2, "/etc/hostname")) == "classe-5e\n"
    fsck_clean(img.image, 2)
    fsck_clean(img.image, 3)
