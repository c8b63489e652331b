"""Status collectors: one small function per source, each reading through `Sources`.

Every path is under `Sources.root` and every program runs through `Sources.run`, so tests
feed fake /sys and /proc trees and canned command output (as gpiozero's
`CPUTemperature(sensor_file=...)` does). A collector returns a dict of status fields or
raises; the sampler turns any failure, or a source that does not answer in time, into
"unknown" for that collector's fields. Nothing here imports Flask.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from ardoise.device_protocol import ACTIVITY_KEY, AGENT_KEY, SYNC_NOW, TaskResult

Runner = Callable[[Sequence[str], float], str]
HttpGet = Callable[[str, float], int]

# Bits of the firmware's get_throttled value (Raspberry Pi documentation, vcgencmd).
THROTTLE_BITS = {
    "under_voltage_now": 0, "freq_capped_now": 1, "throttled_now": 2, "soft_temp_limit_now": 3,
    "under_voltage_since_boot": 16, "freq_capped_since_boot": 17,
    "throttled_since_boot": 18, "soft_temp_limit_since_boot": 19,
}
FIRMWARE_THROTTLED = "sys/devices/platform/soc/soc:firmware/get_throttled"
FIRSTBOOT_BLINK = "run/ardoise/firstboot-blink"
WIFI_STATUS = "status/wifi.json"  # written by first boot in data_dir


class SourceError(RuntimeError):
    """A source answered, but not with something usable (reason in the message)."""


def run_command(argv: Sequence[str], timeout: float) -> str:
    """Run a program and return its output; a missing program, an error exit or a hang
    (bounded by `timeout`) raises."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              check=False)
    except FileNotFoundError:
        raise SourceError(f"{argv[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise SourceError(f"{argv[0]} did not answer within {timeout:g} s") from None
    if done.returncode != 0:
        raise SourceError(f"{argv[0]} exited with {done.returncode}: "
                          f"{done.stderr.strip()[:200]}")
    return done.stdout


def http_status(url: str, timeout: float) -> int:
    """HTTP status of a GET of an http:// URL (the web process answering its own status
    endpoint, on loopback). Only the status line is read. A plain socket rather than
    http.client: the long-running agent has no use for TLS and does not load it
    (hardware.runtime.without_tls). A connection that fails, or an answer that is not
    HTTP, raises OSError."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise SourceError(f"only http:// addresses are checked, not {url}")
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(f"GET {target} HTTP/1.0\r\nHost: {parts.netloc}\r\n"
                     "Connection: close\r\n\r\n".encode("ascii"))
        with sock.makefile("rb") as answer:
            line = answer.readline(200)
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/") or not code.isdigit():
        raise OSError(f"not an HTTP answer: {line[:80]!r}")
    return int(code)


class DeviceReader(Protocol):
    """The database part of the status: the agent's `hardware.store.SqliteStore`, or
    `hardware.orm_reader.SessionReader` in processes that have SQLAlchemy sessions."""

    def read_state(self, key: str) -> tuple[dict[str, Any], dt.datetime] | None: ...

    def last_task_result(self, task: str) -> TaskResult | None: ...

    def has_pending(self, kind: str) -> bool: ...

    def active_packs(self) -> list[tuple[str, str]]: ...


@dataclass(frozen=True)
class Sources:
    """Where the status comes from. Defaults read the real machine."""

    root: Path = Path("/")
    data_dir: Path = Path("/var/lib/ardoise")
    run: Runner = run_command
    disk_usage: Callable[[Path], Any] = shutil.disk_usage
    http_get: HttpGet = http_status
    wifi_interface: str = "wlan0"
    block_device: str | None = None  # None: the disk that holds data_dir
    web_url: str | None = None  # None: do not check the web process (we are it)
    sessions: Callable[[], Any] | None = None  # SQLAlchemy sessions (the web, the CLI)
    store: DeviceReader | None = None  # or the agent's sqlite3 store; wins when both given
    timeout: float = 2.0
    extra: dict[str, Any] = field(default_factory=dict)

    def path(self, rel: str) -> Path:
        return self.root / rel


def _read(src: Sources, rel: str) -> str:
    return src.path(rel).read_text(encoding="utf-8", errors="replace")


def cpu_temperature(src: Sources) -> dict[str, Any]:
    raw = _read(src, "sys/class/thermal/thermal_zone0/temp").strip()
    return {"cpu_temp_c": round(int(raw) / 1000, 1)}


def parse_throttled(value: int) -> dict[str, Any]:
    flags: dict[str, Any] = {name: bool(value >> bit & 1) for name, bit in THROTTLE_BITS.items()}
    flags["raw"] = f"0x{value:x}"
    return flags


def throttling(src: Sources) -> dict[str, Any]:
    """From the firmware's sysfs file when the kernel has it, else from vcgencmd."""
    firmware = src.path(FIRMWARE_THROTTLED)
    if firmware.exists():
        value = int(firmware.read_text().strip(), 16)
    else:
        out = src.run(["vcgencmd", "get_throttled"], src.timeout).strip()
        if not out.startswith("throttled="):
            raise SourceError(f"unexpected vcgencmd output: {out[:80]!r}")
        value = int(out.split("=", 1)[1], 16)
    return {"throttling": parse_throttled(value)}


def memory(src: Sources) -> dict[str, Any]:
    fields: dict[str, int] = {}
    for line in _read(src, "proc/meminfo").splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            fields[name] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return {"memory_total_bytes": fields["MemTotal"],
            "memory_available_bytes": fields["MemAvailable"]}


def load(src: Sources) -> dict[str, Any]:
    one, five, fifteen = (float(x) for x in _read(src, "proc/loadavg").split()[:3])
    return {"load_1m": one, "load_5m": five, "load_15m": fifteen}


def uptime(src: Sources) -> dict[str, Any]:
    return {"uptime_seconds": float(_read(src, "proc/uptime").split()[0])}


def disk(src: Sources) -> dict[str, Any]:
    usage = src.disk_usage(src.data_dir)
    return {"disk_total_bytes": int(usage.total), "disk_free_bytes": int(usage.free)}


def parse_station_dump(text: str) -> int:
    """Number of stations in `iw dev <if> station dump` output."""
    return sum(1 for line in text.splitlines() if line.startswith("Station "))


def wifi_clients(src: Sources) -> dict[str, Any]:
    out = src.run(["iw", "dev", src.wifi_interface, "station", "dump"], src.timeout)
    return {"wifi_clients": parse_station_dump(out)}


def wifi_capacity(src: Sources) -> dict[str, Any]:
    """How many tablets the access point was set up to carry (written by first boot)."""
    data = json.loads((src.data_dir / WIFI_STATUS).read_text(encoding="utf-8"))
    return {"wifi_capacity": int(data["client_capacity"])}


def data_block_device(src: Sources) -> str:
    """The whole disk holding data_dir (mmcblk0 for mmcblk0p3), from /sys/dev/block."""
    if src.block_device:
        return src.block_device
    st = os.stat(src.data_dir)
    node = src.path(f"sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    real = node.resolve(strict=True)
    return real.parent.name if (real / "partition").exists() else real.name


def sd_writes(src: Sources) -> dict[str, Any]:
    """Bytes written to the data disk since boot: field 7 of /sys/block/<dev>/stat is
    sectors written, and the kernel counts sectors of 512 bytes whatever the device."""
    dev = data_block_device(src)
    fields = _read(src, f"sys/block/{dev}/stat").split()
    return {"sd_device": dev, "sd_written_bytes": int(fields[6]) * 512}


def web(src: Sources) -> dict[str, Any]:
    if src.web_url is None:
        return {}
    try:
        status = src.http_get(src.web_url, src.timeout)
    except OSError:
        return {"web_ok": False}
    return {"web_ok": status == 200}


def firstboot(src: Sources) -> dict[str, Any]:
    """First boot writes its result code here (0: everything applied). Any other code is
    shown as problem 7, 8 or 9 (hardware.problems); the code itself is kept too."""
    path = src.path(FIRSTBOOT_BLINK)
    if not path.exists():
        return {"setup_error": False, "setup_code": None}
    code = int(path.read_text().strip() or "0")
    return {"setup_error": code != 0, "setup_code": code}


def database(src: Sources) -> dict[str, Any]:
    """Last sync, the task running now, the agent's heartbeat, pending requests, packs."""
    if src.store is not None:
        return device_fields(src.store)
    if src.sessions is None:
        raise SourceError("no database")
    # Only processes that already hold SQLAlchemy sessions come here; the agent, which
    # must not load SQLAlchemy, gives a store instead.
    from hardware.orm_reader import SessionReader

    with src.sessions() as s:
        return device_fields(SessionReader(s))


def device_fields(reader: DeviceReader) -> dict[str, Any]:
    agent = reader.read_state(AGENT_KEY)
    activity = reader.read_state(ACTIVITY_KEY)
    return {
        "last_sync": reader.last_task_result("sync"),
        "activity": activity[0] if activity else None,
        "agent": agent[0] if agent else None,
        "agent_seen_at": agent[1] if agent else None,
        "sync_requested": reader.has_pending(SYNC_NOW),
        "packs": reader.active_packs(),
    }


# name -> collector; the sampler runs them side by side, each bounded by a timeout.
COLLECTORS: dict[str, Callable[[Sources], dict[str, Any]]] = {
    "temperature": cpu_temperature,
    "throttling": throttling,
    "memory": memory,
    "load": load,
    "uptime": uptime,
    "disk": disk,
    "wifi": wifi_clients,
    "wifi_capacity": wifi_capacity,
    "sd": sd_writes,
    "web": web,
    "firstboot": firstboot,
    "database": database,
}

# The status fields each collector fills, so a failure marks exactly these unknown.
FIELDS: dict[str, tuple[str, ...]] = {
    "temperature": ("cpu_temp_c",),
    "throttling": ("throttling",),
    "memory": ("memory_total_bytes", "memory_available_bytes"),
    "load": ("load_1m", "load_5m", "load_15m"),
    "uptime": ("uptime_seconds",),
    "disk": ("disk_total_bytes", "disk_free_bytes"),
    "wifi": ("wifi_clients",),
    "wifi_capacity": ("wifi_capacity",),
    "sd": ("sd_device", "sd_written_bytes"),
    "web": ("web_ok",),
    "firstboot": ("setup_error", "setup_code"),
    "database": ("last_sync", "activity", "agent", "agent_seen_at", "sync_requested", "packs"),
}

__all__ = [
    "COLLECTORS",
    "FIELDS",
    "DeviceReader",
    "SourceError",
    "Sources",
    "device_fields",
    "http_status",
    "parse_station_dump",
    "parse_throttled",
    "run_command",
]
