"""A real rsync daemon on 127.0.0.1 for the tests, configured by `rsyncd_config`, stopped
by its PID; and ways to cut it while a hub pulls."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from content_packs.serve import rsyncd_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Daemon:
    tree: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"rsync://127.0.0.1:{self.port}/packs"

    def connections(self) -> list[int]:
        """PIDs of the daemon's children: one per hub being served."""
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def cut(self) -> int:
        """Kill every connection the daemon is serving (the link drops mid-transfer)."""
        killed = 0
        for child in self.connections():
            try:
                os.kill(child, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        return killed

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for child in self.connections():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def start_daemon(tree: Path, workdir: Path) -> Daemon:
    """`rsync --daemon --no-detach` serving `tree` as module "packs" on a free port."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "rsyncd.conf"
    log = workdir / "rsyncd.log"
    config.write_text(rsyncd_config(tree, pid_file=workdir / "rsyncd.pid", log_file=log))
    for _attempt in range(5):
        port = free_port()
        process = subprocess.Popen(
            ["rsync", "--daemon", "--no-detach", f"--config={config}", "--address=127.0.0.1",
             f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return Daemon(tree, port, process, log)
            except OSError:
                time.sleep(0.02)
        process.kill()
        process.wait()
    raise RuntimeError("the rsync daemon did not start")


def staged_bytes(folder: Path) -> int:
    """Bytes under `folder`, rsync's temporary and partial files included."""
    total = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).stat().st_size
    return total


def when_staged(folder: Path, min_bytes: int, action: Callable[[], object],
                timeout: float = 20.0) -> threading.Thread:
    """Run `action` (cut the link, kill a process) once `min_bytes` have arrived under
    `folder`: the moment is read from the disk, as a power cut would find it."""
    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if staged_bytes(folder) >= min_bytes:
                action()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, name="when-staged")
    thread.start()
    return thread
