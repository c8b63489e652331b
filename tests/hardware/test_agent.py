"""The agent on mock GPIO with a fake clock: button presses, light patterns, tasks,
requests and rate-limited heartbeats. Nothing sleeps: the clock is moved by hand."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ardoise import device
from ardoise.settings import load_settings
from hardware import lights as L
from hardware.agent import Agent, HardwareState, InlineExecutor, PeriodicTask, TaskContext
from hardware.lights import open_devices
from hardware.status import Sampler, Thresholds
from hardware.store import SqliteStore
from tests.hardware.conftest import FakeClock, fake_sources

T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
GREEN, YELLOW, RED, BUTTON, BUZZER = "GPIO17", "GPIO27", "GPIO22", "GPIO23", "GPIO24"


class Rig:
    """An agent wired to mock pins, a fake clock and a recording command runner. The agent
    uses its sqlite3 store, as `ardoise agent` does; the tests read what it wrote through
    the ORM (`sessions`), as the web does."""

    def __init__(self, factory: MockFactory, clock: FakeClock, sessions: sessionmaker[Session],
                 store: SqliteStore, root: Path, data_dir: Path, *,
                 tasks: list[Any] | None = None,
                 executor: Any = None, free: int = 20 * 10**9, command_status: int = 0,
                 **settings: Any) -> None:
        self.factory, self.clock, self.sessions = factory, clock, sessions
        self.settings = load_settings(env={}, read_default_file=False, overrides={
            "data_dir": str(data_dir), "hw_buzzer_pin": BUZZER, **settings})
        self.commands: list[str] = []
        self.command_status = command_status
        devices = open_devices(self.settings, factory)
        sampler = Sampler(fake_sources(root, data_dir, store=store, free=free), wall=self.wall,
                          limits=Thresholds.from_settings(self.settings, check_agent=False))
        self.agent = Agent(settings=self.settings, store=store, sessions=sessions,
                           sampler=sampler,
                           devices=devices, hardware=HardwareState("on"), tasks=tasks or [],
                           clock=clock, wall=self.wall,
                           executor=executor or InlineExecutor(), run_command=self.run)

    def wall(self) -> dt.datetime:
        return T0 + dt.timedelta(seconds=self.clock.t - 1000.0)

    def run(self, command: str) -> int:
        self.commands.append(command)
        return self.command_status

    def pin(self, name: str) -> Any:
        return self.factory.pin(name)

    def lit(self) -> dict[str, bool]:
        return {n: bool(self.pin(p).state) for n, p in
                (("green", GREEN), ("yellow", YELLOW), ("red", RED))}

    def press(self, seconds: float) -> float:
        """Hold the button for `seconds` (of the fake clock), stepping while held."""
        self.pin(BUTTON).drive_low()
        self.agent.step()
        self.clock.advance(seconds)
        self.agent.step()
        self.pin(BUTTON).drive_high()
        return self.agent.step()

    def requests(self) -> list[device.DeviceRequest]:
        with self.sessions() as s:
            return list(s.scalars(select(device.DeviceRequest).order_by(device.DeviceRequest.id)))


@pytest.fixture
def rig_factory(mock_factory: MockFactory, clock: FakeClock, sessions: sessionmaker[Session],
                store: SqliteStore, fake_root: Path, data_dir: Path) -> Iterator[Any]:
    made: list[Rig] = []

    def make(**kw: Any) -> Rig:
        rig = Rig(mock_factory, clock, sessions, store, fake_root, data_dir, **kw)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.agent.close()


class Recorder:
    """A sync-like task that records how it was started."""

    name = "sync"
    interval_seconds = 0.0
    requests = ("sync_now",)
    activity = "syncing"

    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self.calls: list[list[str]] = []
        self.result, self.error = result, error
        self.health: dict[str, Any] | None = None

    def run(self, ctx: TaskContext) -> Any:
        self.calls.append(list(ctx.requested_by))
        self.health = ctx.health_record()
        if self.error:
            raise self.error
        return self.result


def test_idle_hub_shows_steady_green_and_sleeps_until_something_is_due(rig_factory: Any) -> None:
    rig = rig_factory()
    rig.agent.start()
    delay = rig.agent.step()
    assert rig.lit() == {"green": True, "yellow": False, "red": False}
    assert delay == pytest.approx(2.0)  # next look for requests; nothing blinks
    rig.clock.advance(1.0)
    assert rig.agent.step() == pytest.approx(1.0)


def test_short_press_syncs_now(rig_factory: Any) -> None:
    task = Recorder(result={"ok": True, "message": "12 records up, 3 down", "records": 15})
    rig = rig_factory(tasks=[task])
    rig.agent.start()
    rig.agent.step()
    rig.press(0.4)
    assert task.calls == [["button"]]
    assert rig.pin(BUZZER).states[1].state == 1  # one beep acknowledged the press
    [req] = rig.requests()
    assert (req.kind, req.source, req.ok) == ("sync_now", "button", True)
    with rig.sessions() as s:
        last = device.last_sync(s)
        assert device.read_state(s, device.ACTIVITY_KEY) is None
    assert last is not None and last.ok and last.message == "12 records up, 3 down"
    assert last.details == {"records": 15}
    assert task.health is not None and task.health["schema"] == 1
    assert rig.lit() == {"green": True, "yellow": False, "red": False}


def test_a_bouncing_button_gives_one_sync(rig_factory: Any) -> None:
    task = Recorder()
    rig = rig_factory(tasks=[task])
    rig.agent.start()
    rig.agent.step()
    pin = rig.pin(BUTTON)
    for advance, level in ((0.0, 0), (0.004, 1), (0.004, 0), (0.5, 1), (0.003, 0), (0.004, 1)):
        rig.clock.advance(advance)
        pin.drive_low() if level == 0 else pin.drive_high()
    rig.agent.step()
    rig.agent.step()
    assert task.calls == [["button"]]
    assert len(rig.requests()) == 1


def test_hold_three_seconds_then_release_shuts_down(rig_factory: Any) -> None:
    rig = rig_factory()
    rig.agent.start()
    rig.agent.step()
    rig.pin(BUTTON).drive_low()
    rig.agent.step()
    rig.clock.advance(2.9)
    rig.agent.step()
    assert rig.lit() == {"green": True, "yellow": False, "red": False}
    rig.clock.advance(0.2)  # 3.1 s: armed, every light blinks fast
    rig.agent.step()
    assert rig.lit() == {"green": True, "yellow": True, "red": True}
    rig.clock.advance(0.16)
    rig.agent.step()
    assert rig.lit() == {"green": False, "yellow": False, "red": False}
    assert rig.commands == []
    rig.pin(BUTTON).drive_high()
    rig.agent.step()
    assert rig.commands == ["systemctl poweroff"]
    assert rig.lit() == {"green": False, "yellow": False, "red": True}
    assert rig.requests() == []  # a long press is not a sync request


def test_holding_past_ten_seconds_cancels(rig_factory: Any) -> None:
    rig = rig_factory()
    rig.agent.start()
    rig.agent.step()
    rig.press(10.5)
    assert rig.commands == []
    assert rig.requests() == []
    assert rig.lit()["green"] is True  # back to normal


def test_failed_shutdown_command_goes_back_to_normal(rig_factory: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    rig = rig_factory(command_status=1)
    rig.agent.start()
    rig.agent.step()
    with caplog.at_level(logging.ERROR):
        rig.press(3.5)
    assert rig.commands == ["systemctl poweroff"]
    assert "exited with 1" in caplog.text
    rig.agent.step()
    assert rig.lit() == {"green": True, "yellow": False, "red": False}


def test_held_ten_seconds_at_start_restores_the_network(rig_factory: Any) -> None:
    rig = rig_factory(hw_restore_network_command="/usr/lib/ardoise/restore-network --now")
    rig.pin(BUTTON).drive_low()  # held while the hub starts
    rig.agent.start()
    rig.agent.step()
    rig.clock.advance(5)
    assert rig.agent.step() <= 0.15  # yellow counts fast: the agent wakes for each blink
    assert rig.agent.lights.showing()["yellow"] == "fast"
    assert rig.commands == []
    rig.clock.advance(5)
    rig.agent.step()
    assert rig.commands == ["/usr/lib/ardoise/restore-network --now"]
    assert rig.lit() == {"green": True, "yellow": True, "red": True}  # all on: done
    rig.clock.advance(1)
    rig.pin(BUTTON).drive_high()
    rig.agent.step()
    assert rig.requests() == [] and rig.commands == ["/usr/lib/ardoise/restore-network --now"]
    rig.clock.advance(2)
    rig.agent.step()
    assert rig.lit() == {"green": True, "yellow": False, "red": False}


def test_held_at_start_but_released_early_does_nothing(rig_factory: Any) -> None:
    rig = rig_factory()
    rig.pin(BUTTON).drive_low()
    rig.agent.start()
    rig.agent.step()
    rig.clock.advance(4)  # longer than a shutdown hold, shorter than a restore
    rig.agent.step()
    rig.pin(BUTTON).drive_high()
    rig.agent.step()
    assert rig.commands == [] and rig.requests() == []


def test_periodic_task_runs_on_its_schedule(rig_factory: Any) -> None:
    runs: list[float] = []
    rig: Rig

    def tick(ctx: TaskContext) -> None:
        runs.append(rig.clock.t)

    task = PeriodicTask("packs", tick, interval_seconds=900, first_delay_seconds=60,
                        activity="updating")
    rig = rig_factory(tasks=[task])
    rig.agent.start()
    rig.agent.step()
    assert runs == []
    rig.clock.advance(60)
    rig.agent.step()
    assert runs == [1060.0]
    rig.clock.advance(899)
    rig.agent.step()
    assert runs == [1060.0]
    rig.clock.advance(1)
    rig.agent.step()
    assert runs == [1060.0, 1960.0]
    with rig.sessions() as s:
        assert device.last_task_result(s, "packs").ok  # type: ignore[union-attr]


def test_yellow_blinks_with_progress_while_a_task_runs(rig_factory: Any) -> None:
    started, release = threading.Event(), threading.Event()

    def work(ctx: TaskContext) -> dict[str, Any]:
        ctx.progress(0.5, "frame 3 of 6")
        started.set()
        release.wait(10)
        return {"message": "done"}

    pool = ThreadPoolExecutor(max_workers=1)
    rig = rig_factory(tasks=[PeriodicTask("sync", work, requests=("sync_now",),
                                          activity="syncing")], executor=pool)
    rig.agent.start()
    rig.agent.step()
    try:
        with rig.sessions() as s:
            device.request_sync_now(s, "web")
            s.commit()
        rig.clock.advance(2)
        rig.agent.step()
        assert started.wait(5)
        rig.agent.step()
        assert rig.agent.lights.showing()["yellow"] == "progress"
        with rig.sessions() as s:
            activity = device.read_state(s, device.ACTIVITY_KEY)
        assert activity is not None and activity[0]["task"] == "sync"
        assert activity[0]["requested_by"] == ["web"]
        # 50%: lit for 1.0 s of each 2 s beat
        lit = []
        for dt_ in (0.0, 0.5, 0.4, 0.2, 1.0):
            rig.clock.advance(dt_)
            rig.agent.step()
            lit.append(rig.lit()["yellow"])
        assert lit == [True, True, True, False, True]
    finally:
        release.set()
    pool.shutdown(wait=True)
    rig.agent.step()
    assert rig.lit()["yellow"] is False
    with rig.sessions() as s:
        assert device.last_sync(s).message == "done"  # type: ignore[union-attr]
        assert device.read_state(s, device.ACTIVITY_KEY) is None


def test_red_blinks_the_code_of_the_problem(rig_factory: Any) -> None:
    rig = rig_factory(free=10 * 10**6)  # storage almost full: code 4
    rig.agent.start()
    rig.agent.step()
    assert rig.agent.lights.showing()["red"] == "code-4"
    seen = []
    start = rig.clock.t
    for t in (0.1, 0.5, 0.8, 1.2, 1.5, 1.9, 2.2, 2.6, 3.0, 3.5, 4.5, 4.9):
        rig.clock.t = start + t
        rig.agent.step()
        seen.append(rig.lit()["red"])
    # four blinks of 0.3 s every 0.7 s, then a 2 s pause; again from 4.4 s
    assert seen == [True, False, True, False, True, False, True, False,
                    False, False, True, False]


def test_a_failed_sync_is_recorded_and_shown(rig_factory: Any) -> None:
    task = Recorder(error=ConnectionError("central unreachable"))
    rig = rig_factory(tasks=[task])
    rig.agent.start()
    rig.agent.step()
    rig.press(0.3)
    with rig.sessions() as s:
        last = device.last_sync(s)
    assert last is not None and not last.ok and last.message == "central unreachable"
    [req] = rig.requests()
    assert req.ok is False and req.message == "central unreachable"
    rig.agent.step()
    assert rig.agent.lights.showing()["red"] == "code-5"


def test_a_request_nothing_handles_is_closed(rig_factory: Any) -> None:
    rig = rig_factory()
    with rig.sessions() as s:
        device.request_sync_now(s, "web")
        s.commit()
    rig.agent.start()
    rig.agent.step()
    [req] = rig.requests()
    assert req.done_at is not None and req.ok is False


def test_heartbeat_is_written_on_change_and_otherwise_rarely(rig_factory: Any) -> None:
    rig = rig_factory(status_write_seconds=600)
    rig.agent.start()
    rig.agent.step()

    def written() -> dt.datetime:
        with rig.sessions() as s:
            found = device.read_state(s, device.AGENT_KEY)
        assert found is not None
        return found[1]

    first = written()
    for _ in range(20):  # 20 turns over 5 minutes: nothing new to say
        rig.clock.advance(15)
        rig.agent.step()
    assert written() == first
    rig.clock.advance(301)
    rig.agent.step()
    assert written() > first
    second = written()
    rig.pin(BUTTON).drive_low()  # a change of the lights is written at once
    rig.agent.step()
    rig.clock.advance(3.2)
    rig.agent.step()
    assert written() > second
    with rig.sessions() as s:
        beat = device.read_state(s, device.AGENT_KEY)[0]  # type: ignore[index]
    assert beat["lights"] == {"green": "fast", "yellow": "fast", "red": "fast"}
    assert beat["hardware"] == "on"


def test_without_gpio_the_agent_runs_and_says_so_once(
        clock: FakeClock, sessions: sessionmaker[Session], store: SqliteStore, fake_root: Path,
        data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(env={}, read_default_file=False,
                             overrides={"data_dir": str(data_dir)})
    task = Recorder()
    agent = Agent(settings=settings, store=store,
                  sampler=Sampler(fake_sources(fake_root, data_dir, store=store)),
                  hardware=HardwareState("off", "no GPIO on this machine (no pin factory)"),
                  tasks=[task], clock=clock, executor=InlineExecutor())
    with caplog.at_level(logging.WARNING):
        agent.start()
        for _ in range(5):
            agent.step()
            clock.advance(10)
    assert caplog.text.count("running without lights and button") == 1
    with sessions() as s:
        device.request_sync_now(s, "cli")
        s.commit()
    agent.step()
    agent.close()
    assert task.calls == [["cli"]]
    with sessions() as s:
        beat = device.read_state(s, device.AGENT_KEY)[0]  # type: ignore[index]
    assert beat["hardware"] == "off" and beat["stopped"] is True


def test_patterns_are_what_the_wall_sheet_says() -> None:
    assert L.code(2).steps == ((True, 0.3), (False, 0.4), (True, 0.3), (False, 2.0))
    assert L.FAST_BLINK.steps == ((True, 0.15), (False, 0.15))
    assert L.SLOW_BLINK.steps == ((True, 1.0), (False, 1.0))
