"""The medium test image: the full build's root without the Pi's boot chain.

Same bootstrap (minus raspi-firmware, the kernel package and the Wi-Fi firmware), same
hub virtualenv, same `configure` (units, nginx, access point, locked accounts), same packs
baking and partition assembly as `ardoise image build`; booted under
`qemu-system-aarch64 -M virt` with the Debian kernel and the test initramfs
(`image_builder.initramfs`) instead of the Pi firmware. It shows what the tiny image
cannot: systemd starting first boot, then the web process behind nginx.
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
    with pipeline.arm64_emulation():
        root = pipeline.build_root(config, cache, work, progress, pipeline.SYSTEM_PACKAGES)
    boot, data = pipeline.split_partitions(root, work)
    (boot / "ardoise.toml").write_bytes(settings)
    with progress.stage("packs", cached=not config.packs):
        for source in config.packs:
            pipeline.bake_pack(source, data, config.trusted_keys)
    with progress.stage("assemble"):
        kernel = extract.debian_kernel(cache, config.suite, mirror)
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


__all__ = ["APPEND", "GUEST_HTTP", "MediumImage", "build"]
