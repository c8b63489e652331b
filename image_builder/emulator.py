"""Booting an image under `qemu-system-aarch64` and watching its serial console.

Used by the emulated tests and to time a first boot. Two boards: `virt` (the card on
virtio-blk, any memory size) and `raspi3b` (the Raspberry Pi 3 model B: the card on the
SoC's SD controller, which QEMU wants a power of two in size; 1 GiB and 4 cores, fixed;
the console on the second serial port, the mini UART the Pi's device tree prints on).
The guest gets no network unless a port is forwarded, and then only a restricted
user-mode network (`restrict=on`: no way out) with the guest's port reachable on
127.0.0.1; only `virt` has a network card for it. The NIC's option ROM is turned off
(`romfile=`): Debian's qemu does not install the EFI ROM and nothing here needs it.
QEMU runs in its own process group and is killed by its PID whatever happens, and by the
kernel when the process that started it dies (a test run interrupted with SIGTERM or
SIGKILL leaves no emulated machine behind).
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
class Board:
    """A QEMU machine model and what a test boot must do differently on it."""

    name: str
    console: str  # the kernel's console= for the serial port QEMU prints on its stdout
    sd_card: bool  # the card on the SoC's SD controller (a power of two), not virtio-blk
    device_tree: str | None = None  # in the kernel package's usr/lib/linux-image-<version>
    fixed_memory_mib: int | None = None  # set by the board, whatever Machine asks
    fixed_cpus: int | None = None

    def card_size(self, size: int) -> int:
        """The smallest card of at least `size` bytes this board accepts."""
        return 1 << (size - 1).bit_length() if self.sd_card and size > 1 else size


VIRT = Board("virt", "ttyAMA0", sd_card=False)
RASPI3B = Board("raspi3b", "ttyS1,115200", sd_card=True,
                device_tree="broadcom/bcm2837-rpi-3-b.dtb", fixed_memory_mib=1024,
                fixed_cpus=4)
BOARDS = {board.name: board for board in (VIRT, RASPI3B)}


@dataclass(frozen=True)
class Machine:
    kernel: Path
    initrd: Path
    disk: Path
    append: str
    memory_mib: int = 512  # on virt; raspi3b has its own (Board.fixed_memory_mib)
    cpus: int = 1
    forward: dict[int, int] = field(default_factory=dict)  # host port -> guest port
    monitor: Path | None = None  # a Unix socket for QEMU's monitor (power button)
    board: str = VIRT.name
    dtb: Path | None = None  # the device tree, for boards whose firmware would pass one

    def argv(self) -> list[str]:
        board = BOARDS[self.board]
        if board.device_tree and self.dtb is None:
            raise BootFailed(N_("The %(board)s machine needs a device tree (dtb) to boot "
                                "a kernel."), board=board.name)
        argv = [which("qemu-system-aarch64") or "qemu-system-aarch64", "-M", board.name]
        if board is VIRT:
            argv += ["-cpu", "cortex-a53"]
        argv += ["-smp", str(board.fixed_cpus or self.cpus),
                 "-m", str(board.fixed_memory_mib or self.memory_mib),
                 "-nographic", "-no-reboot", "-kernel", str(self.kernel),
                 "-initrd", str(self.initrd), "-append", self.append]
        if self.dtb is not None:
            argv += ["-dtb", str(self.dtb)]
        if board.sd_card:
            # UART0 (PL011) is wired to Bluetooth on a Pi 3; the console is the mini UART.
            argv += ["-drive", f"file={self.disk},format=raw,if=sd,cache=unsafe",
                     "-serial", "null", "-serial", "mon:stdio"]
        else:
            argv += ["-drive", f"file={self.disk},format=raw,if=none,id=card,cache=unsafe",
                     "-device", "virtio-blk-pci,drive=card"]
        if self.forward and board is not VIRT:
            raise BootFailed(N_("The %(board)s machine has no network card to forward "
                                "ports to; use virt."), board=board.name)
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


PR_SET_PDEATHSIG = 1  # prctl(2)


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the parent goes (Linux only; elsewhere the
    context manager's cleanup is all there is)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Running:
    """A booted machine; use as a context manager so QEMU never outlives its caller."""

    def __init__(self, machine: Machine, console_log: Path,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.machine, self.console_log, self.clock = machine, console_log, clock
        self._log = open(console_log, "wb")  # noqa: SIM115 (closed in stop())
        self.started = clock()
        self.process = subprocess.Popen(machine.argv(), stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True, preexec_fn=_die_with_parent)

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


__all__ = ["BOARDS", "RASPI3B", "VIRT", "Board", "BootFailed", "Machine", "Running",
           "free_port"]
