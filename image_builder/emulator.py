"""Booting an image under `qemu-system-aarch64 -M virt` and watching its serial console.

Used by the emulated tests and to time a first boot. The guest gets no network unless a
port is forwarded, and then only a restricted user-mode network (`restrict=on`: no way
out) with the guest's port reachable on 127.0.0.1. The NIC's option ROM is turned off
(`romfile=`): Debian's qemu does not install the EFI ROM and nothing here needs it.
QEMU runs in its own process group and is killed by its PID whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from ardoise.i18n import N_
from image_builder.errors import BuildFailed
from image_builder.prereq import which


class BootFailed(BuildFailed):
    code = "boot_failed"


@dataclass(frozen=True)
class Machine:
    kernel: Path
    initrd: Path
    disk: Path
    append: str
    memory_mib: int = 512
    cpus: int = 1
    forward: dict[int, int] = field(default_factory=dict)  # host port -> guest port
    monitor: Path | None = None  # a Unix socket for QEMU's monitor (power button)

    def argv(self) -> list[str]:
        argv = [which("qemu-system-aarch64") or "qemu-system-aarch64", "-M", "virt",
                "-cpu", "cortex-a53", "-smp", str(self.cpus), "-m", str(self.memory_mib),
                "-nographic", "-no-reboot", "-kernel", str(self.kernel),
                "-initrd", str(self.initrd), "-append", self.append,
                "-drive", f"file={self.disk},format=raw,if=none,id=card,cache=unsafe",
                "-device", "virtio-blk-pci,drive=card"]
        if self.forward:
            fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in self.forward.items())
            argv += ["-netdev", f"user,id=net0,restrict=on,{fwd}",
                     "-device", "virtio-net-pci,netdev=net0,romfile="]
        else:
            argv += ["-nic", "none"]
        if self.monitor is not None:
            argv += ["-monitor", f"unix:{self.monitor},server,nowait"]
        return argv


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Running:
    """A booted machine; use as a context manager so QEMU never outlives its caller."""

    def __init__(self, machine: Machine, console_log: Path,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.machine, self.console_log, self.clock = machine, console_log, clock
        self._log = open(console_log, "wb")  # noqa: SIM115 (closed in stop())
        self.started = clock()
        self.process = subprocess.Popen(machine.argv(), stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def console(self) -> str:
        return self.console_log.read_bytes().decode("utf-8", "replace")

    def _tail(self) -> str:
        return self.console()[-3000:]

    def wait_for(self, text: str, timeout: float, poll: float = 0.2) -> float:
        """Seconds from start until `text` appears on the console; BootFailed when QEMU
        exits first or `timeout` passes (the message carries the console's end)."""
        deadline = self.clock() + timeout
        while True:
            if text in self.console():
                return self.clock() - self.started
            if self.process.poll() is not None:
                raise BootFailed(N_("The emulated machine stopped before printing %(text)s. "
                                    "Console:\n%(console)s"), text=text, console=self._tail())
            if self.clock() > deadline:
                raise BootFailed(N_("%(text)s did not appear within %(seconds)s s. "
                                    "Console:\n%(console)s"), text=text,
                                 seconds=int(timeout), console=self._tail())
            time.sleep(poll)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the guest to power itself off; BootFailed if it does not in time."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise BootFailed(N_("The emulated machine did not power off within %(seconds)s "
                                "s. Console:\n%(console)s"), seconds=int(timeout),
                             console=self._tail()) from None

    def press_power_button(self) -> None:
        """What a clean shutdown starts with on a Pi: the guest's systemd powers off."""
        if self.machine.monitor is None:
            raise BootFailed(N_("This machine has no monitor socket to press its power "
                                "button."))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(self.machine.monitor))
            s.sendall(b"system_powerdown\n")
            time.sleep(0.5)  # let the monitor read the command before the socket closes

    def stop(self) -> None:
        """Kill QEMU (by PID, with its process group) if it still runs."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        self._log.close()

    def __enter__(self) -> Running:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


__all__ = ["BootFailed", "Machine", "Running", "free_port"]
