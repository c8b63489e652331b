"""The one device status: sampled from the collectors, judged into problems, and shown by
the lights, `ardoise status`, /api/v1/status (public part), the technician page (full part)
and the health record sent to the central with each sync.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ardoise import __version__
from ardoise.clock import utcnow
from ardoise.device_protocol import TaskResult
from ardoise.settings import Settings
from hardware import problems as P
from hardware.collectors import COLLECTORS, FIELDS, DeviceReader, Sources
from hardware.problems import Problem

Clock = Callable[[], float]
WallClock = Callable[[], dt.datetime]

# An agent heartbeat older than this many write intervals means the agent is not running.
AGENT_STALE_FACTOR = 3
# Collector threads: few, as each costs memory in the long-running agent; the collectors
# are quick, so a handful of threads is enough even with one stuck.
POOL_SIZE = 4


@dataclass
class DeviceStatus:
    """Every field may be None: unknown, with the reason in `unknown`."""

    sampled_at: dt.datetime
    version: str
    role: str
    sample_ms: float | None = None
    cpu_temp_c: float | None = None
    throttling: dict[str, Any] | None = None
    memory_total_bytes: int | None = None
    memory_available_bytes: int | None = None
    load_1m: float | None = None
    load_5m: float | None = None
    load_15m: float | None = None
    uptime_seconds: float | None = None
    disk_total_bytes: int | None = None
    disk_free_bytes: int | None = None
    wifi_clients: int | None = None
    wifi_capacity: int | None = None
    sd_device: str | None = None
    sd_written_bytes: int | None = None
    web_ok: bool | None = None
    setup_error: bool | None = None
    setup_code: int | None = None  # first boot's own result code
    last_sync: TaskResult | None = None
    activity: dict[str, Any] | None = None
    agent: dict[str, Any] | None = None
    agent_seen_at: dt.datetime | None = None
    sync_requested: bool | None = None
    packs: list[tuple[str, str]] | None = None
    unknown: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def state(self) -> str:
        """"attention" (red light), "busy" (syncing or updating) or "ok"."""
        if self.problems:
            return "attention"
        if self.activity:
            return "busy"
        return "ok"

    @property
    def blink_code(self) -> int | None:
        """What the red light blinks: the most urgent problem's code (`problems` is in order
        of urgency, see `evaluate`)."""
        codes = [p.blinks for p in self.problems if p.blinks is not None]
        return codes[0] if codes else None

    def to_dict(self) -> dict[str, Any]:
        """The full status, JSON-ready (technician page, `ardoise status --json`)."""
        sync = self.last_sync
        return {
            "state": self.state,
            "blink_code": self.blink_code,
            "problems": [p.code for p in self.problems],
            "warnings": [p.code for p in self.warnings],
            "sampled_at": _iso(self.sampled_at),
            "sample_ms": self.sample_ms,
            "version": self.version,
            "role": self.role,
            "uptime_seconds": self.uptime_seconds,
            "cpu_temp_c": self.cpu_temp_c,
            "throttling": self.throttling,
            "memory": {"total_bytes": self.memory_total_bytes,
                       "available_bytes": self.memory_available_bytes},
            "load": {"1m": self.load_1m, "5m": self.load_5m, "15m": self.load_15m},
            "disk": {"total_bytes": self.disk_total_bytes, "free_bytes": self.disk_free_bytes},
            "wifi": {"clients": self.wifi_clients, "capacity": self.wifi_capacity},
            "sd": {"device": self.sd_device, "written_bytes_since_boot": self.sd_written_bytes},
            "web_ok": self.web_ok,
            "setup": {"error": self.setup_error, "firstboot_code": self.setup_code},
            "last_sync": None if sync is None else {
                "at": _iso(sync.at), "ok": sync.ok, "message": sync.message,
                "last_ok_at": _iso(sync.last_ok_at)},
            "sync_requested": self.sync_requested,
            "activity": self.activity,
            "agent": None if self.agent is None else {
                **self.agent, "seen_at": _iso(self.agent_seen_at)},
            "packs": None if self.packs is None else [
                {"id": pid, "version": ver} for pid, ver in self.packs],
            "unknown": dict(sorted(self.unknown.items())),
        }

    def public_dict(self) -> dict[str, Any]:
        """What anyone on the network may see: the state and its codes, nothing personal."""
        sync = self.last_sync
        return {
            "state": self.state,
            "blink_code": self.blink_code,
            "problems": [p.code for p in self.problems],
            "last_sync_at": _iso(sync.at) if sync else None,
            "last_sync_ok": sync.ok if sync else None,
            "sampled_at": _iso(self.sampled_at),
        }


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Thresholds:
    temp_warning_c: float = 80.0
    disk_min_free_bytes: int = 500 * 1024 * 1024
    sync_stale: dt.timedelta = dt.timedelta(hours=72)
    agent_stale: dt.timedelta | None = dt.timedelta(seconds=900 * AGENT_STALE_FACTOR)

    @classmethod
    def from_settings(cls, settings: Settings, *, check_agent: bool = True) -> Thresholds:
        return cls(temp_warning_c=float(settings.status_temp_warning_c),
                   disk_min_free_bytes=settings.status_disk_min_free_mb * 1024 * 1024,
                   sync_stale=dt.timedelta(hours=settings.status_sync_stale_hours),
                   agent_stale=dt.timedelta(seconds=settings.status_write_seconds
                                            * AGENT_STALE_FACTOR) if check_agent else None)


def evaluate(status: DeviceStatus, limits: Thresholds) -> None:
    """Fill `problems` and `warnings` from the fields. Unknown fields raise nothing: a
    missing thermometer is not a fire."""
    found: list[Problem] = []
    if status.web_ok is False:
        found.append(P.WEB_DOWN)
    t = status.throttling or {}
    if t.get("under_voltage_now"):
        found.append(P.POWER)
    elif t.get("under_voltage_since_boot"):
        found.append(P.POWER_DIPPED)
    if (status.cpu_temp_c is not None and status.cpu_temp_c >= limits.temp_warning_c) or (
            t.get("throttled_now") or t.get("soft_temp_limit_now")):
        found.append(P.TOO_HOT)
    elif t.get("throttled_since_boot") or t.get("soft_temp_limit_since_boot"):
        found.append(P.WAS_THROTTLED)
    if status.disk_free_bytes is not None and status.disk_free_bytes < limits.disk_min_free_bytes:
        found.append(P.STORAGE_FULL)
    sync = status.last_sync
    if "last_sync" not in status.unknown:
        if sync is None:
            found.append(P.NEVER_SYNCED)
        elif not sync.ok:
            found.append(P.SYNC_FAILED)
        if (sync is not None and sync.last_ok_at is not None
                and status.sampled_at - sync.last_ok_at > limits.sync_stale):
            found.append(P.SYNC_STALE)
    if status.setup_error:
        found.append(P.SETUP_BY_FIRSTBOOT_CODE.get(status.setup_code or 0, P.SETUP_ERROR))
    if (status.wifi_clients is not None and status.wifi_capacity
            and status.wifi_clients >= status.wifi_capacity):
        found.append(P.WIFI_CROWDED)
    if limits.agent_stale is not None and "agent" not in status.unknown:
        if status.agent_seen_at is None or (status.agent or {}).get("stopped") or (
                status.sampled_at - status.agent_seen_at > limits.agent_stale):
            found.append(P.AGENT_STOPPED)
        elif status.agent and status.agent.get("hardware") not in (None, "on"):
            found.append(P.HARDWARE_OFF)
    status.problems = sorted((p for p in found if not p.is_warning),
                             key=lambda p: (p not in P.SETUP_PROBLEMS, p.blinks or 0))
    status.warnings = [p for p in found if p.is_warning]


class Sampler:
    """Runs the collectors side by side, each bounded by a timeout.

    A collector that hangs (a stuck `vcgencmd`, a dead mount) leaves its fields unknown;
    while it is still stuck from an earlier sample it is not started again, so hung
    threads never pile up.
    """

    def __init__(self, sources: Sources, *, version: str = __version__, role: str = "hub",
                 limits: Thresholds | None = None, timeout: float | None = None,
                 collectors: dict[str, Callable[[Sources], dict[str, Any]]] | None = None,
                 wall: WallClock = utcnow, clock: Clock = time.perf_counter) -> None:
        self.sources = sources
        self.version = version
        self.role = role
        self.limits = limits or Thresholds()
        self.timeout = sources.timeout + 0.5 if timeout is None else timeout
        self.collectors = dict(COLLECTORS if collectors is None else collectors)
        self.wall = wall
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=POOL_SIZE,
                                        thread_name_prefix="ardoise-status")
        self._busy: dict[str, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def sample(self) -> DeviceStatus:
        started = self.clock()
        status = DeviceStatus(sampled_at=self.wall(), version=self.version, role=self.role)
        futures: dict[str, Future[dict[str, Any]]] = {}
        with self._lock:
            for name, collect in self.collectors.items():
                previous = self._busy.get(name)
                if previous is not None and not previous.done():
                    status.unknown[name] = "still busy since an earlier sample"
                    continue
                futures[name] = self._pool.submit(collect, self.sources)
                self._busy[name] = futures[name]
        wait_futures(list(futures.values()), timeout=self.timeout)
        known = {f.name for f in fields(DeviceStatus)}
        for name, future in futures.items():
            if not future.done():
                status.unknown[name] = f"no answer within {self.timeout:g} s"
                continue
            exc = future.exception()
            if exc is not None:
                status.unknown[name] = _reason(exc)
                continue
            for key, value in future.result().items():
                if key in known:
                    setattr(status, key, value)
        for name in list(status.unknown):
            for key in FIELDS.get(name, ()):
                status.unknown.setdefault(key, status.unknown[name])
        evaluate(status, self.limits)
        status.sample_ms = round((self.clock() - started) * 1000, 2)
        return status

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Sampler:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"not available ({exc.filename})"
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]}"
    text = str(exc) or type(exc).__name__
    return text[:200]


def sources_from_settings(settings: Settings, sessions: Callable[[], Any] | None = None, *,
                          check_web: bool = True, store: DeviceReader | None = None) -> Sources:
    """The real machine's sources for these settings (the web page passes
    check_web=False: it is the web process). The database is read through SQLAlchemy
    `sessions`, or through the agent's sqlite3 `store`."""
    web_url = None
    if check_web and settings.role == "hub":
        web_url = f"http://{_local_host(settings.host)}:{settings.port}/api/v1/status"
    return Sources(data_dir=Path(settings.data_dir), wifi_interface=settings.wifi_interface,
                   web_url=web_url, sessions=sessions, store=store)


def _local_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def sample_status(settings: Settings, sessions: Callable[[], Any] | None = None, *,
                  sources: Sources | None = None, check_web: bool = True,
                  check_agent: bool = True) -> DeviceStatus:
    """One status sample with these settings: what `ardoise status` and the web show."""
    src = sources or sources_from_settings(settings, sessions, check_web=check_web)
    with Sampler(src, role=settings.role,
                 limits=Thresholds.from_settings(settings, check_agent=check_agent)) as sampler:
        return sampler.sample()


def health_record(status: DeviceStatus, *, device_id: str | None = None) -> dict[str, Any]:
    """What the hub sends to the central with each sync: the full status (no personal
    data in it) plus the device id and a schema number for the central to read it."""
    record = status.to_dict()
    record["schema"] = 1
    if device_id is not None:
        record["device_id"] = device_id
    return record


__all__ = ["DeviceStatus", "Sampler", "Thresholds", "evaluate", "health_record",
           "sample_status", "sources_from_settings"]
