"""Fast emulated tier: the tiny image (same partition assembly, same first-boot code) booted
with qemu-system-aarch64 -M virt, then read back with debugfs and mtools to check what
first boot changed on the card.

Needs the tools of `script/bootstrap --tests` and the Debian mirror the first time (the
kernel and the tiny root are then cached, see image_builder.extract.default_cache_dir).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from image_builder import extract, inspect, partitions, prereq, tiny
from image_builder.emulator import Running
from image_builder.firstboot import MARKER_FAILED, MARKER_OK
from image_builder.pipeline import host_mirror

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(prereq.missing_tools(prereq.TINY_TOOLS)),
                       reason="needs the tools of script/bootstrap --tests"),
]

BOOT_SECONDS = 300  # TCG on a loaded CI machine; a boot takes about 15 s here
TOKEN = "tok_0123456789abcdef"
SETTINGS = f"""\
# réglages de l'école
[school]
name = "École des Îles"
hub_name = "classe-5e"

[wifi]
country = "CA"
ssid = "Ardoise 5e"
passphrase = "tablettes-2026"

[central]
url = "https://central.example.org"
enrollment_token = "{TOKEN}"
"""


def build(tmp_path: Path, card_extra_mib: int = 64) -> tiny.TinyImage:
    return tiny.build(tmp_path / "tiny", SETTINGS.encode(), extract.default_cache_dir(),
                      "bookworm", host_mirror(), card_extra_mib=card_extra_mib)


def boot(image: tiny.TinyImage, log: Path, marker: str) -> str:
    """Boot until first boot prints `marker`, then wait for the guest to power off."""
    with Running(image.machine, log) as vm:
        vm.wait_for(marker, BOOT_SECONDS)
        assert vm.wait_exit(120) == 0
        return vm.console()


def text(data: bytes | None) -> str:
    assert data is not None
    return data.decode("utf-8")


def fsck_clean(image: Path, number: int) -> None:
    start = inspect.partitions(image)[number - 1].start
    subprocess.run([prereq.which("e2fsck") or "e2fsck", "-fn", f"{image}?offset={start}"],
                   check=True, capture_output=True)


def test_first_boot_configures_the_card_then_applies_only_edits(tmp_path: Path) -> None:
    img = build(tmp_path)
    card_bytes = img.image.stat().st_size
    # the first-boot code on the card is this source tree's
    run_py = "image_builder/firstboot/run.py"
    assert inspect.ext4_read(img.image, 2, f"/opt/ardoise/lib/{run_py}") == \
        (tiny.PROJECT / run_py).read_bytes()
    blocks_before = inspect.ext4_block_count(img.image, 3)

    console = boot(img, tmp_path / "boot1.log", MARKER_OK)
    assert "first boot exited with status 0" in console
    # the partitions found by label on the virtio disk (on the Pi's SD controller: the
    # raspi3b test)
    assert f"LABEL={partitions.DATA_LABEL} is /dev/vda3 at /sys/devices/" in console

    # the data partition grew to the end of the card, file system included
    data = inspect.partitions(img.image)[2]
    assert data.start + data.size == card_bytes
    assert data.size == (img.layout.data_mib + 64) * partitions.MIB
    assert inspect.ext4_block_count(img.image, 3) > blocks_before
    # secrets gone from the boot partition, the rest of the file kept
    card = text(inspect.fat_read(img.image, "ardoise.toml"))
    assert "tablettes-2026" not in card and TOKEN not in card
    assert "# réglages de l'école" in card and 'ssid = "Ardoise 5e"' in card
    assert "# passphrase: appliqué et retiré de la carte" in card
    # bilingual log written back to the boot partition
    log = text(inspect.fat_read(img.image, "ardoise-firstboot.log"))
    assert "Résultat : le concentrateur est configuré." in log
    assert "Result: the hub is configured." in log
    # per-device secrets on the data partition, readable by their owner only
    secret = text(inspect.ext4_read(img.image, 3, "/secret_key"))
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert text(inspect.ext4_read(img.image, 3, "/keys/hub_ed25519")).startswith(
        "-----BEGIN PRIVATE KEY-----")
    assert "Mode:  0600" in inspect.ext4_stat(img.image, 3, "/keys/hub_ed25519")
    assert "PUBLIC KEY" in text(inspect.ext4_read(img.image, 3, "/keys/hub_ed25519.pub"))
    assert text(inspect.ext4_read(img.image, 3, "/central/enrollment_token")).strip() == TOKEN
    assert "Mode:  0600" in inspect.ext4_stat(img.image, 3, "/central/enrollment_token")
    status = json.loads(text(inspect.ext4_read(img.image, 3, "/status/firstboot.json")))
    assert status["ok"] is True and status["blink_code"] == 0
    # this image carries no hub program: the database step says so instead of failing
    assert status["steps"]["database"] == "skipped"
    # settings applied on the root file system
    assert text(inspect.ext4_read(img.image, 2, "/etc/hostname")) == "classe-5e\n"
    hostapd = text(inspect.ext4_read(img.image, 2, "/etc/hostapd/hostapd.conf"))
    assert "wpa_passphrase=tablettes-2026" in hostapd
    assert "Ardoise 5e" in text(inspect.ext4_read(img.image, 3, "/status/wifi.json"))
    # powered off cleanly
    fsck_clean(img.image, 2)
    fsck_clean(img.image, 3)

    # the technician renames the network on the card from a laptop and restarts the hub
    inspect.fat_write(img.image, "ardoise.toml",
                      card.replace('ssid = "Ardoise 5e"', 'ssid = "Classe 5"').encode())
    boot(img, tmp_path / "boot2.log", MARKER_OK)
    status = json.loads(text(inspect.ext4_read(img.image, 3, "/status/firstboot.json")))
    assert [s for s, v in status["steps"].items() if v == "applied"] == ["wifi"]
    hostapd = text(inspect.ext4_read(img.image, 2, "/etc/hostapd/hostapd.conf"))
    assert f"ssid2={b'Classe 5'.hex()}" in hostapd
    assert "wpa_passphrase=tablettes-2026" in hostapd  # kept though gone from the card
    assert text(inspect.ext4_read(img.image, 3, "/secret_key")) == secret


def test_card_smaller_than_image_changes_nothing(tmp_path: Path) -> None:
    # The copy stops 16 MiB before the end of the image: inside the data partition.
    img = build(tmp_path, card_extra_mib=-16)
    console = boot(img, tmp_path / "boot.log", MARKER_FAILED)
    assert f"{MARKER_FAILED} code=3" in console
    log = text(inspect.fat_read(img.image, "ardoise-firstboot.log"))
    need = img.layout.total_mib
    assert f"The card is smaller than the image ({need - 16} MiB, the image needs " \
           f"{need} MiB)" in log
    assert "La carte est plus petite que l'image" in log
    # nothing applied: secrets still on the card, nothing written under the mount point
    card = text(inspect.fat_read(img.image, "ardoise.toml"))
    assert "tablettes-2026" in card and TOKEN in card
    assert inspect.ext4_list(img.image, 2, "/var/lib/ardoise") == []
    assert inspect.ext4_read(img.image, 2, "/etc/hostname") != b"classe-5e\n"
    assert inspect.ext4_read(img.image, 2, "/etc/hostapd/hostapd.conf") is None
    fsck_clean(img.image, 2)

