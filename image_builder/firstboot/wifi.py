"""The classroom access point: hostapd settings, and the Wi-Fi firmware choice that lets
more tablets associate.

The Pi's Broadcom/Cypress chips limit how many stations the firmware accepts in access
point mode. Reports from deployments (Raspberry Pi kernel issue 3010, Internet-in-a-Box
issue 823) put the stock CYW43455 firmware (Pi 3B+, 4, 5, CM4) around 8 to 19 clients and
the "minimal" CYW43455 firmware, built to drop station features for more AP clients,
around 32. The CYW43430/43436 (Pi 3B, Zero 2 W) holds about 10. So: where the minimal
firmware is on the system, it is put first in the kernel's firmware search path
(`/lib/firmware/updates/`), and hostapd's `max_num_sta` is set to what the chip carries,
so the 11th tablet is told "busy" instead of crashing the firmware for everyone. The
capacity recorded is this configured figure, not a measurement on the hub.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from image_builder.firstboot.config import DeviceConfig
from image_builder.firstboot.system import Paths, write_file

# Letters and digits that cannot be confused when read aloud or copied from a sheet.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

STOCK_43455 = 16
MINIMAL_43455 = 28
CHIP_43430 = 10
UNKNOWN_CHIP = 16
MINIMAL_FIRMWARE = ("cypress/cyfmac43455-sdio-minimal.bin",
                    "brcm/brcmfmac43455-sdio-minimal.bin")


def generate_passphrase() -> str:
    """Three groups of four, easy to type on a tablet: about 74 bits."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))


@dataclass(frozen=True)
class ChipPlan:
    chip: str
    capacity: int
    firmware: str  # "stock", "minimal" or "n/a"
    source: str


def plan_for(model: str, firmware_dir: Path) -> ChipPlan:
    """Which chip this Pi has (from its device-tree model) and the best firmware present."""
    m = model.lower()
    if re.search(r"raspberry pi (4|5|400)\b|3 model b plus|compute module [45]", m):
        for rel in MINIMAL_FIRMWARE:
            if (firmware_dir / rel).is_file():
                return ChipPlan("cyw43455", MINIMAL_43455, "minimal", rel)
        return ChipPlan("cyw43455", STOCK_43455, "stock", "brcm/brcmfmac43455-sdio.bin")
    if re.search(r"3 model b|zero 2", m):
        return ChipPlan("cyw43430", CHIP_43430, "stock", "brcm/brcmfmac43430-sdio.bin")
    return ChipPlan("unknown", UNKNOWN_CHIP, "n/a", "")


def read_model(paths: Paths) -> str:
    try:
        return paths.model_file.read_bytes().rstrip(b"\0").decode("utf-8", "replace")
    except OSError:
        return ""


def hostapd_conf(config: DeviceConfig, passphrase: str, capacity: int) -> str:
    psk = (f"wpa_psk={passphrase}" if len(passphrase) == 64
           else f"wpa_passphrase={passphrase}")
    return "\n".join([
        "# Written by ardoise first boot from ardoise.toml; edit that file instead.",
        "interface=wlan0",
        "driver=nl80211",
        f"ssid2={config.wifi_ssid.encode().hex()}",
        f"country_code={config.wifi_country}",
        "ieee80211d=1",
        "hw_mode=g",
        f"channel={config.wifi_channel}",
        "ieee80211n=1",
        "wmm_enabled=1",
        "auth_algs=1",
        "wpa=2",
        "wpa_key_mgmt=WPA-PSK",
        "rsn_pairwise=CCMP",
        psk,
        f"max_num_sta={capacity}",
        # Tablets talk to the hub, never to each other.
        "ap_isolate=1",
        "",
    ])


def apply_wifi(paths: Paths, config: DeviceConfig, passphrase: str) -> ChipPlan:
    plan = plan_for(read_model(paths), paths.firmware)
    write_file(paths.etc / "hostapd/hostapd.conf",
               hostapd_conf(config, passphrase, plan.capacity), 0o600)
    write_file(paths.etc / "modprobe.d/ardoise-wifi.conf", "\n".join([
        "# Access point use: no firmware roaming offload; regulatory domain from ardoise.toml",
        "options brcmfmac roamoff=1",
        f"options cfg80211 ieee80211_regdom={config.wifi_country}",
        ""]))
    override = paths.firmware / "updates/brcm/brcmfmac43455-sdio.bin"
    if plan.firmware == "minimal":
        override.parent.mkdir(parents=True, exist_ok=True)
        if override.is_symlink() or override.exists():
            override.unlink()
        override.symlink_to(Path("/lib/firmware") / plan.source)
    elif override.is_symlink():
        override.unlink()
    write_status(paths, config, passphrase, plan)
    return plan


def write_status(paths: Paths, config: DeviceConfig, passphrase: str, plan: ChipPlan) -> None:
    """What the status sheet shows: network name, passphrase, how many tablets it carries."""
    status = {"ssid": config.wifi_ssid, "passphrase": passphrase,
              "country": config.wifi_country, "channel": config.wifi_channel,
              "client_capacity": plan.capacity, "capacity_basis": "configured",
              **{f"chip_{k}": v for k, v in asdict(plan).items() if k != "capacity"}}
    write_file(paths.status / "wifi.json", json.dumps(status, indent=2) + "\n", 0o640)


def current_passphrase(paths: Paths) -> str | None:
    try:
        return json.loads((paths.status / "wifi.json").read_text())["passphrase"]
    except (OSError, ValueError, KeyError):
        return None


__all__ = ["ChipPlan", "apply_wifi", "current_passphrase", "generate_passphrase",
           "hostapd_conf", "plan_for"]
