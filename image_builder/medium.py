"""The medium test image: the full build's root without the Pi's boot chain.

Same bootstrap (minus raspi-firmware, the kernel package and the Wi-Fi firmware), same
hub virtualenv, same `configure` (units, nginx, access point, locked accounts), same packs
baking and partition assembly as `ardoise image build`; booted under
`qemu-system-aarch64 -M virt` with the Debian kernel and the test initramfs
(`image_builder.initramfs`) instead of the Pi firmware. It shows what the tiny image
cannot: systemd starting first boot, then the web process behind nginx, and the classroom
access point (hostapd, dnsmasq) on a radio emulated by `mac80211_hwsim`, checked from a
second emulated radio (`TEST_RADIO_UNIT`). The radio's modules and the check unit are put
in this test image only, never in the one `ardoise image build` makes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from image_builder import extract, initramfs, partitions, pipeline, tiny
from image_builder.build_config import BuildConfig
from image_builder.emulator import Machine
from image_builder.progress import Progress

# rw, as in the Pi's cmdline.txt: what systemd may write to /etc on the first boot shows.
APPEND = (f"console=ttyAMA0 root=LABEL={partitions.ROOT_LABEL} rw net.ifnames=0 panic=-1 "
          "systemd.show_status=1")
GUEST_HTTP = 80  # nginx; the web process itself listens on the guest's loopback only
# Module folders the emulated radios need: mac80211_hwsim, the Wi-Fi stack, the ciphers
# hostapd asks the kernel for (CCMP), and what they depend on.
RADIO_MODULES = ("kernel/net", "kernel/crypto", "kernel/arch/arm64/crypto", "kernel/lib",
                 "kernel/drivers/net/wireless/mac80211_hwsim.ko")
WIFI_SCAN = "/var/lib/ardoise/test-wifi-scan.txt"
WIFI_UNITS = "/var/lib/ardoise/test-wifi-units.txt"
# Channels 1, 6 and 11 only: a scan of every channel takes over a minute under emulation.
SCAN_FREQS = "2412 2437 2462"
WIFI_DONE = "ARDOISE-TEST-WIFI-DONE"  # printed on the console once both files are written
# Two radios: wlan0 for the hub's access point, wlan1 a tablet that scans for it.
TEST_RADIO_UNIT = f"""[Unit]
Description=Test image only: look for the classroom Wi-Fi from the second emulated radio
After=hostapd.service systemd-networkd.service var-lib-ardoise.mount
Requires=var-lib-ardoise.mount

[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/sh -c 'log() {{ echo "$$(date +%%T) $$*" >> {WIFI_UNITS}; sync; }}; \\
  log start; timeout 30 ip link set wlan1 up; log "wlan1 up: $$?"; \\
  for i in 1 2 3 4 5 6 7 8 9 10; do \\
  timeout 60 iw dev wlan1 scan freq {SCAN_FREQS} > {WIFI_SCAN} 2>&1; \\
  log "scan $$i: $$?"; grep -q "SSID:" {WIFI_SCAN} && break; sleep 3; done; \\
  for i in 1 2 3 4 5 6 7 8 9 10; do systemctl is-active -q dnsmasq.service && break; \\
  sleep 3; done; {{ systemctl is-active hostapd.service dnsmasq.service; \\
  ip -4 -o addr show dev wlan0; iw reg get; \\
  journalctl -b --no-pager -u hostapd.service -u dnsmasq.service | tail -n 30; \\
  }} >> {WIFI_UNITS} 2>&1; sync; echo {WIFI_DONE}'

[Install]
WantedBy=multi-user.target
"""


@dataclass(frozen=True)
class MediumImage:
    image: Path
    layout: partitions.Layout
    machine: Machine


def build(out_dir: Path, settings: bytes, cache: Path, http_port: int,
          config: BuildConfig | None = None, card_extra_mib: int = 256,
          echo: Callable[[str], None] = print) -> MediumImage:
    """Assemble `out_dir/medium.img` with `settings` as ardoise.toml; the guest's nginx
    answers on 127.0.0.1:`http_port`."""
    config = config or BuildConfig()
    mirror = config.mirror or pipeline.host_mirror()
    progress = Progress(5, echo)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / "work"
    shutil.rmtree(work, ignore_errors=True)
    kernel = extract.debian_kernel(cache, config.suite, mirror)
    with pipeline.arm64_emulation():
        root = pipeline.build_root(config, cache, work, progress, pipeline.SYSTEM_PACKAGES)
        add_test_radios(root, kernel)
    boot, data = pipeline.split_partitions(root, work)
    (boot / "ardoise.toml").write_bytes(settings)
    with progress.stage("packs", cached=not config.packs):
        for source in config.packs:
            pipeline.bake_pack(source, data, config.trusted_keys)
    with progress.stage("assemble"):
        userland = extract.cached_unpack(cache, "tiny-root", tiny.PACKAGES, config.suite,
                                         mirror)
        initrd = initramfs.build_initramfs(out_dir / "initrd.img", userland / "bin/busybox",
                                           kernel.modules, work=work / "initramfs")
        layout = partitions.plan(64, root, 64, data, config.data_mib)
        image = out_dir / "medium.img"
        partitions.assemble(image, layout, boot, root, data, work / "parts")
        with open(image, "r+b") as fh:
            fh.truncate((layout.total_mib + card_extra_mib) * partitions.MIB)
    shutil.rmtree(work, ignore_errors=True)
    machine = Machine(kernel.image, initrd, image, APPEND, memory_mib=1024,
                      forward={http_port: GUEST_HTTP}, monitor=out_dir / "monitor.sock")
    return MediumImage(image, layout, machine)


def add_test_radios(root: Path, kernel: extract.Kernel) -> None:
    """Two emulated Wi-Fi radios at boot (`mac80211_hwsim`) and the unit that scans from the
    second: the kernel's modules come from the unpacked Debian kernel, indexed in the root
    (under emulation) so systemd-modules-load finds them."""
    modules = root / "lib/modules" / kernel.version
    for rel in RADIO_MODULES:
        source = kernel.modules / rel
        if source.is_dir():
            shutil.copytree(source, modules / rel, dirs_exist_ok=True)
        else:
            (modules / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, modules / rel)
    for name in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
        shutil.copy(kernel.modules / name, modules / name)
    pipeline.chroot(root, "depmod", kernel.version)
    (root / "etc/modules-load.d/test-radios.conf").write_text("mac80211_hwsim\n")
    unit = root / "etc/systemd/system/ardoise-test-wifi.service"
    unit.write_text(TEST_RADIO_UNIT)
    pipeline.chroot(root, "systemctl", "enable", "ardoise-test-wifi.service")


__all__ = [
    "APPEND",
    "GUEST_HTTP",
    "WIFI_DONE",
    "WIFI_SCAN",
    "WIFI_UNITS",
    "MediumImage",
    "add_test_radios",
    "build",
]
