"""Collectors read fake /sys and /proc trees and canned command output, and fail soft."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ardoise import device
from content_packs.catalog import InstalledPack
from hardware import collectors as C
from hardware import problems as P
from hardware.status import Sampler, Thresholds, evaluate
from image_builder.firstboot.run import BLINK_SETTINGS, BLINK_STEP
from tests.hardware.conftest import STATION_DUMP, fake_runner, fake_sources, make_tree

NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


def _sampler(sources: C.Sources, **kw: object) -> Sampler:
    kw.setdefault("wall", lambda: NOW)
    return Sampler(sources, limits=Thresholds(agent_stale=None), **kw)  # type: ignore[arg-type]


def test_every_collector_reads_the_fake_machine(tmp_path: Path, fake_root: Path) -> None:
    with _sampler(fake_sources(fake_root, tmp_path)) as sampler:
        s = sampler.sample()
    assert s.cpu_temp_c == 48.3
    assert s.throttling is not None
    assert s.throttling["under_voltage_since_boot"] is True  # 0x50000: bits 16 and 18
    assert s.throttling["throttled_since_boot"] is True
    assert s.throttling["under_voltage_now"] is False
    assert s.memory_total_bytes == 3884000 * 1024
    assert s.memory_available_bytes == 2911000 * 1024
    assert (s.load_1m, s.load_5m, s.load_15m) == (0.15, 0.30, 0.25)
    assert s.uptime_seconds == 7261.43
    assert s.disk_free_bytes == 20 * 10**9
    assert s.wifi_clients == 3
    assert (s.sd_device, s.sd_written_bytes) == ("mmcblk0", 2_000_000 * 512)
    assert s.setup_error is False
    # No database given: unknown, and so no sync problem is made up.
    assert "last_sync" in s.unknown and s.last_sync is None
    assert {p.code for p in s.warnings} == {"power_dipped", "was_throttled"}
    assert s.problems == []
    assert s.state == "ok"


def test_throttling_from_vcgencmd_when_the_sysfs_file_is_absent(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "root", throttled=None)
    calls: list[Sequence[str]] = []

    def run(argv: Sequence[str], timeout: float) -> str:
        calls.append(argv)
        return {"vcgencmd": "throttled=0x5\n", "iw": ""}[argv[0]]

    with _sampler(fake_sources(root, tmp_path, run=run)) as sampler:
        s = sampler.sample()
    assert ["vcgencmd", "get_throttled"] in [list(c) for c in calls]
    assert s.throttling is not None and s.throttling["raw"] == "0x5"
    assert s.throttling["under_voltage_now"] and s.throttling["throttled_now"]
    assert [p.code for p in s.problems] == ["power", "too_hot"]
    assert s.blink_code == 2
    assert s.wifi_clients == 0


def test_missing_sources_are_unknown_not_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    src = C.Sources(root=empty, data_dir=tmp_path / "nowhere", run=fake_runner({}),
                    block_device="mmcblk0", timeout=0.5)
    with _sampler(src) as sampler:
        s = sampler.sample()
    for field in ("cpu_temp_c", "throttling", "memory_total_bytes", "load_1m", "uptime_seconds",
                  "disk_free_bytes", "wifi_clients", "sd_written_bytes"):
        assert getattr(s, field) is None, field
        assert field in s.unknown, field
    assert "vcgencmd is not installed" in s.unknown["throttling"]
    assert "iw is not installed" in s.unknown["wifi"]
    assert s.problems == []


def test_garbage_in_a_source_is_unknown(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "root", throttled="not-hex")
    (root / "proc/meminfo").write_text("MemTotal: lots\n")
    with _sampler(fake_sources(root, tmp_path)) as sampler:
        s = sampler.sample()
    assert s.throttling is None and "throttling" in s.unknown
    assert s.memory_total_bytes is None and "memory" in s.unknown
    assert s.cpu_temp_c == 48.3  # the others are still read


def test_a_hanging_source_is_bounded_by_the_timeout(tmp_path: Path, fake_root: Path) -> None:
    release = threading.Event()

    def stuck(argv: Sequence[str], timeout: float) -> str:
        release.wait(30)  # a wedged `iw`, ignoring its own timeout
        return STATION_DUMP

    sampler = _sampler(fake_sources(fake_root, tmp_path, run=stuck), timeout=0.3)
    try:
        s = sampler.sample()
        assert s.wifi_clients is None
        assert "no answer within 0.3 s" in s.unknown["wifi"]
        assert s.cpu_temp_c == 48.3
        # Still stuck at the next sample: not started a second time.
        again = sampler.sample()
        assert "still busy" in again.unknown["wifi"]
    finally:
        release.set()
        sampler.close()


def test_sd_device_found_from_the_data_folder(tmp_path: Path, fake_root: Path) -> None:
    st = os.stat(tmp_path)
    part = fake_root / "sys/devices/platform/mmc/block/mmcblk0/mmcblk0p3"
    part.mkdir(parents=True)
    (part / "partition").write_text("3\n")
    link = fake_root / f"sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    link.parent.mkdir(parents=True)
    link.symlink_to(part)
    src = C.Sources(root=fake_root, data_dir=tmp_path)
    assert C.data_block_device(src) == "mmcblk0"
    assert C.sd_writes(src) == {"sd_device": "mmcblk0", "sd_written_bytes": 2_000_000 * 512}


def test_station_dump_and_throttle_parsers() -> None:
    assert C.parse_station_dump(STATION_DUMP) == 3
    assert C.parse_station_dump("") == 0
    flags = C.parse_throttled(0x80008)
    assert flags["soft_temp_limit_now"] and flags["soft_temp_limit_since_boot"]
    assert not flags["under_voltage_now"]


def test_database_sources_last_sync_packs_and_requests(
        tmp_path: Path, fake_root: Path, sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        s.add(InstalledPack(pack_id="math-5", version="2", active=True, title_fr="Maths",
                            title_en="Math", language="fr", licence="CC-BY-4.0",
                            manifest_json="{}"))
        s.add(InstalledPack(pack_id="math-5", version="1", active=False, title_fr="Maths",
                            title_en="Math", language="fr", licence="CC-BY-4.0",
                            manifest_json="{}"))
        device.record_task_result(s, "sync", ok=True, now=NOW - dt.timedelta(hours=100))
        device.record_task_result(s, "sync", ok=False, message="central unreachable",
                                  now=NOW - dt.timedelta(hours=1))
        device.request_sync_now(s, "web")
        s.commit()
    with _sampler(fake_sources(fake_root, tmp_path, sessions)) as sampler:
        s = sampler.sample()
    assert s.packs == [("math-5", "2")]
    assert s.last_sync is not None and not s.last_sync.ok
    assert s.last_sync.message == "central unreachable"
    assert s.last_sync.last_ok_at == NOW - dt.timedelta(hours=100)
    assert s.sync_requested is True
    # failed now, and no success for more than 72 h: both problems, code 5 shown first
    assert [p.code for p in s.problems] == ["sync_failed", "sync_stale"]
    assert s.blink_code == 5


def test_thresholds_make_problems(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "root", temp_millic=83000, throttled="0")
    (tmp_path / "status").mkdir()
    (tmp_path / "status/wifi.json").write_text('{"ssid": "A", "client_capacity": 3}')
    src = fake_sources(root, tmp_path, free=100 * 10**6)
    with _sampler(src) as sampler:
        s = sampler.sample()
    assert [p.code for p in s.problems] == ["too_hot", "storage_full"]
    assert P.WIFI_CROWDED in s.warnings
    assert s.blink_code == 3
    assert s.state == "attention"


@pytest.mark.parametrize(("firstboot_code", "blinks", "problem"), [
    (BLINK_SETTINGS, 7, "setup_settings"), (BLINK_STEP, 8, "setup_error")])
def test_firstboot_result_gives_its_own_blink_code(
        tmp_path: Path, fake_root: Path, firstboot_code: int, blinks: int,
        problem: str) -> None:
    blink = fake_root / C.FIRSTBOOT_BLINK
    blink.parent.mkdir(parents=True)
    blink.write_text("0\n")
    with _sampler(fake_sources(fake_root, tmp_path)) as sampler:
        assert sampler.sample().problems == []  # first boot went fine
        blink.write_text(f"{firstboot_code}\n")
        s = sampler.sample()
    assert s.blink_code == blinks and s.setup_error is True
    assert s.setup_code == firstboot_code and [p.code for p in s.problems] == [problem]


def test_a_failed_first_start_is_shown_before_the_pages_being_down(
        tmp_path: Path, fake_root: Path) -> None:
    """The web process cannot start when first boot failed: the red light must say why."""
    blink = fake_root / C.FIRSTBOOT_BLINK
    blink.parent.mkdir(parents=True)
    blink.write_text(f"{BLINK_SETTINGS}\n")
    with _sampler(fake_sources(fake_root, tmp_path)) as sampler:
        s = sampler.sample()
    s.web_ok = False
    evaluate(s, Thresholds(agent_stale=None))
    assert [p.code for p in s.problems] == ["setup_settings", "web_down"]
    assert s.blink_code == 7


def test_first_boot_log_and_the_lights_give_the_same_number() -> None:
    from image_builder.firstboot.run import LIGHT_BLINKS

    for firstboot_code, blinks in LIGHT_BLINKS.items():
        shown = P.SETUP_BY_FIRSTBOOT_CODE.get(firstboot_code, P.SETUP_ERROR)
        assert shown.blinks == blinks
