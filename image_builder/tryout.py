"""Booting a built image under `qemu-system-aarch64 -M virt` before flashing it: a copy of
the image (the original is never changed) with an optional ardoise.toml put on its boot
partition, booted with the kernel and initramfs the build put there, until the hub
answers through nginx on 127.0.0.1. Times first boot and the first answer.
"""

from __future__ import annotations

import contextlib
import http.client
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ardoise.i18n import N_
from image_builder import inspect, partitions
from image_builder.emulator import BootFailed, Machine, Running
from image_builder.errors import BuildFailed
from image_builder.firstboot.run import MARKER_FAILED, MARKER_OK

APPEND = (f"console=ttyAMA0 root=LABEL={partitions.ROOT_LABEL} rw net.ifnames=0 rootwait "
          "panic=-1 systemd.show_status=1")
STATUS_PATH = "/api/v1/status"


@dataclass(frozen=True)
class BootTimes:
    first_boot_s: float  # from power on to first boot's marker on the console
    serving_s: float  # from power on to the first 200 from the hub through nginx
    first_boot_ok: bool


def prepare(image: Path, work: Path, settings: Path | None, card_mib: int) -> Machine:
    """A sparse copy of `image` grown to `card_mib`, with its kernel and initramfs."""
    work.mkdir(parents=True, exist_ok=True)
    card = work / "card.img"
    card.unlink(missing_ok=True)
    subprocess.run(["cp", "--sparse=always", str(image), str(card)], check=True)
    size = max(card.stat().st_size, card_mib * partitions.MIB)
    with open(card, "r+b") as fh:
        fh.truncate(size)
    if settings is not None:
        inspect.fat_write(card, "ardoise.toml", settings.read_bytes())
    names = inspect.fat_list(card)
    kernel = sorted(n for n in names if n.startswith("vmlinuz-"))
    initrd = sorted(n for n in names if n.startswith("initrd.img-"))
    if not kernel or not initrd:
        raise BuildFailed(N_("%(image)s has no kernel or initramfs on its boot partition."),
                          image=str(image))
    inspect.fat_extract(card, kernel[-1], work / "vmlinuz")
    inspect.fat_extract(card, initrd[-1], work / "initrd.img")
    return Machine(work / "vmlinuz", work / "initrd.img", card, APPEND, memory_mib=1024)


def _status(port: int) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", STATUS_PATH)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def try_image(image: Path, work: Path, port: int, settings: Path | None = None,
              card_mib: int = 4096, timeout: float = 1800, keep_running: bool = False,
              echo: Callable[[str], None] = print) -> BootTimes:
    """Boot a copy of `image`; the hub answers on http://127.0.0.1:`port`/ until the
    machine is powered off (at once, unless `keep_running`, then on Ctrl+C)."""
    base = prepare(image, work, settings, card_mib)
    machine = Machine(base.kernel, base.initrd, base.disk, base.append, base.memory_mib,
                      forward={port: 80}, monitor=work / "monitor.sock")
    with Running(machine, work / "console.log") as vm:
        echo(f"console: {work / 'console.log'}")
        deadline = time.monotonic() + timeout
        first = vm.wait_for("ARDOISE-FIRSTBOOT-", timeout)
        ok = MARKER_OK in vm.console() and MARKER_FAILED not in vm.console()
        echo(f"first boot: {'ok' if ok else 'FAILED'} after {first:.0f} s")
        while _status(port) != 200:
            if vm.process.poll() is not None or time.monotonic() > deadline:
                raise BootFailed(N_("The hub did not answer on port %(port)s. Console:\n"
                                    "%(console)s"), port=port, console=vm.console()[-3000:])
            time.sleep(2)
        serving = vm.clock() - vm.started
        echo(f"serving: http://127.0.0.1:{port}/ after {serving:.0f} s")
        if keep_running:
            previous = signal.signal(signal.SIGTERM, _interrupt)
            try:
                with contextlib.suppress(KeyboardInterrupt):
                    vm.process.wait()
            finally:
                signal.signal(signal.SIGTERM, previous)
        vm.press_power_button()
        vm.wait_exit(600)
    return BootTimes(first, serving, ok)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops a kept-running machine as Ctrl+C does: power button, clean stop."""
    raise KeyboardInterrupt


def clean(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)


__all__ = ["APPEND", "BootTimes", "clean", "prepare", "try_image"]
