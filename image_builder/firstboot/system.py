"""Where first boot reads and writes, and how it runs programs: injected, so every step runs
on the host against a fake root folder in tests, and on the Pi against `/`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

Runner = Callable[[Sequence[str], str | None], subprocess.CompletedProcess[str]]


def run_command(argv: Sequence[str], stdin: str | None = None
                ) -> subprocess.CompletedProcess[str]:
    """The real runner: never raises on a non-zero exit; callers read returncode."""
    return subprocess.run(list(argv), input=stdin, text=True, capture_output=True,
                          check=False)


@dataclass(frozen=True)
class Paths:
    root: Path = Path("/")
    boot_rel: str = "boot/firmware"
    data_rel: str = "var/lib/ardoise"
    dev_rel: str = "dev"

    @property
    def boot(self) -> Path:
        return self.root / self.boot_rel

    @property
    def settings_file(self) -> Path:
        return self.boot / "ardoise.toml"

    @property
    def log_file(self) -> Path:
        return self.boot / "ardoise-firstboot.log"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def data(self) -> Path:
        return self.root / self.data_rel

    @property
    def status(self) -> Path:
        return self.data / "status"

    @property
    def state_file(self) -> Path:
        return self.data / "firstboot" / "applied.json"

    @property
    def run(self) -> Path:
        return self.root / "run" / "ardoise"

    @property
    def blink_file(self) -> Path:
        return self.run / "firstboot-blink"

    @property
    def zoneinfo(self) -> Path:
        return self.root / "usr/share/zoneinfo"

    @property
    def sys_block(self) -> Path:
        return self.root / "sys/class/block"

    @property
    def dev(self) -> Path:
        return self.root / self.dev_rel

    @property
    def model_file(self) -> Path:
        return self.root / "proc/device-tree/model"

    @property
    def firmware(self) -> Path:
        return self.root / "lib/firmware"


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    """Write through a temporary file and rename, so a power cut leaves old or new, never
    half a file (also on the FAT boot partition)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


__all__ = ["Paths", "Runner", "run_command", "write_file"]
