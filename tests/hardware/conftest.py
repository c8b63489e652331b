"""Fakes for the device: a /sys and /proc tree, command outputs, a clock, mock GPIO."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from sqlalchemy.orm import Session, sessionmaker

from ardoise.db import make_engine
from hardware.collectors import SourceError, Sources
from hardware.store import SqliteStore

STATION_DUMP = """Station 3c:22:fb:00:00:01 (on wlan0)
\tinactive time:\t120 ms
\trx bytes:\t120394
\tsignal:  \t-52 dBm
Station 3c:22:fb:00:00:02 (on wlan0)
\tinactive time:\t40 ms
Station 3c:22:fb:00:00:03 (on wlan0)
\tinactive time:\t10 ms
"""


class Usage(NamedTuple):
    total: int
    used: int
    free: int


def make_tree(root: Path, *, temp_millic: int = 48312, throttled: str | None = "50000",
              mem_total_kb: int = 3884000, mem_avail_kb: int = 2911000,
              loadavg: str = "0.15 0.30 0.25 1/210 4242", uptime: str = "7261.43 14000.10",
              sectors_written: int = 2_000_000) -> Path:
    """A fake / with the files the collectors read on a Raspberry Pi 4."""
    files = {
        "sys/class/thermal/thermal_zone0/temp": f"{temp_millic}\n",
        "proc/meminfo": (f"MemTotal:       {mem_total_kb} kB\nMemFree:         100000 kB\n"
                         f"MemAvailable:   {mem_avail_kb} kB\nBuffers:          1234 kB\n"),
        "proc/loadavg": loadavg + "\n",
        "proc/uptime": uptime + "\n",
        # reads ios merges sectors ticks writes merges sectors ticks ...
        "sys/block/mmcblk0/stat": (f"   10422     3021   812345    9876     5234     1200 "
                                   f"{sectors_written}    45678        0    12345    55554\n"),
    }
    if throttled is not None:
        files["sys/devices/platform/soc/soc:firmware/get_throttled"] = throttled + "\n"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def fake_runner(outputs: dict[str, str]) -> Callable[[Sequence[str], float], str]:
    """Answers programs by name; a missing one raises like a missing program does."""
    def run(argv: Sequence[str], timeout: float) -> str:
        if argv[0] not in outputs:
            raise SourceError(f"{argv[0]} is not installed")
        return outputs[argv[0]]
    return run


def fake_sources(root: Path, data_dir: Path, sessions: Any = None, *,
                 free: int = 20 * 10**9, **kw: Any) -> Sources:
    return Sources(root=root, data_dir=data_dir, block_device="mmcblk0",
                   run=kw.pop("run", fake_runner({"iw": STATION_DUMP})),
                   disk_usage=lambda _p: Usage(32 * 10**9, 32 * 10**9 - free, free),
                   sessions=sessions, timeout=kw.pop("timeout", 1.0), **kw)


@dataclass
class FakeClock:
    """Monotonic time that only moves when a test says so."""

    t: float = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.close()


@pytest.fixture
def restore_pin_factory() -> Iterator[None]:
    """Tests that let gpiozero choose its factory put the class default back."""
    saved = Device.pin_factory
    yield
    if Device.pin_factory is not None and Device.pin_factory is not saved:
        Device.pin_factory.close()
    Device.pin_factory = saved


@pytest.fixture
def sessions(data_dir: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{data_dir / 'ardoise.db'}")
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
def store(data_dir: Path) -> Iterator[SqliteStore]:
    """The same database as `sessions`, through the agent's plain sqlite3 connection."""
    found = SqliteStore(data_dir / "ardoise.db")
    yield found
    found.close()


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "root")


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("ARDOISE_"):
            monkeypatch.delenv(key)
