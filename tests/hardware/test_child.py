"""Plugged-in tasks run in a child process (`ardoise agent run-task`): the same context
methods in the child, and every way a run can end recorded by the agent, which keeps
going. The tasks are in tests/hardware/child_tasks.py."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from gpiozero.pins.mock import MockFactory

from ardoise.device_protocol import ACTIVITY_KEY, AGENT_KEY
from ardoise.settings import Settings, load_settings
from hardware.agent import Agent, HardwareState, InlineExecutor
from hardware.child import ChildTask, TaskListError, describe_tasks
from hardware.lights import open_devices
from hardware.status import Sampler
from hardware.store import SqliteStore
from hub.cli import main
from sync.agent import SyncTask
from tests.hardware import child_tasks
from tests.hardware.conftest import FakeClock, clean_env, fake_sources

ROOT = Path(__file__).resolve().parents[2]
COMMAND = (sys.executable, "-m", "hub")
PACKAGES = ("tests.hardware.child_tasks",)


@pytest.fixture
def child_env(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Settings:
    """Children see this test's data folder and can import the test tasks."""
    clean_env(monkeypatch)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("ARDOISE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ARDOISE_LANGUAGE", "en")
    monkeypatch.setenv("ARDOISE_DISCOVERY_ENABLED", "false")
    return load_settings(read_default_file=False)


def _tasks(**child: Any) -> dict[str, ChildTask]:
    return {t.name: t for t in describe_tasks(COMMAND, PACKAGES, **child)}


@pytest.fixture
def make_agent(child_env: Settings, store: SqliteStore, fake_root: Path, data_dir: Path,
               clock: FakeClock) -> Iterator[Callable[..., Agent]]:
    made: list[Agent] = []

    def make(tasks: list[Any], **kw: Any) -> Agent:
        agent = Agent(settings=child_env, store=store,
                      sampler=Sampler(fake_sources(fake_root, data_dir, store=store)),
                      tasks=tasks, clock=clock, **kw)
        made.append(agent)
        agent.start()
        agent.step()
        return agent

    yield make
    for agent in made:
        agent.close()


def _wait_for(check: Callable[[], Any], seconds: float = 60.0) -> Any:
    """Poll until `check()` is truthy (a child starts in about a second, more under load)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("gave up waiting")


def test_the_schedules_come_from_the_packages(child_env: Settings,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARDOISE_AGENT_TASK_TIMEOUT_MINUTES", "7")
    tasks = _tasks()
    assert sorted(tasks) == ["counts", "exits", "fails", "hangs", "killed", "lingers", "raises",
                             "waits", "works"]
    works = tasks["works"]
    assert (works.interval_seconds, works.requests, works.activity) == (
        60.0, ("sync_now",), "syncing")
    assert works.timeout_seconds == 7 * 60  # the setting, unless the task says otherwise
    assert tasks["hangs"].timeout_seconds == 1.0
    assert works.command == COMMAND and works.packages == PACKAGES


def test_a_child_gets_the_same_context_and_its_result_is_recorded(
        make_agent: Callable[..., Agent], store: SqliteStore, data_dir: Path,
        clock: FakeClock) -> None:
    agent = make_agent([_tasks()["works"]], executor=InlineExecutor())
    request = store.request_sync_now("web")
    clock.advance(2)
    agent.step()  # takes the request, runs the child to its end, records the result
    result = store.last_task_result("works")
    assert result is not None and result.ok and result.message == "sent 3 rows"
    assert result.details == {"rows": 3}
    seen = child_tasks.seen(data_dir)
    assert seen["requested_by"] == ["web"] and seen["task"] == "works"
    assert seen["health_schema"] == 1  # the agent's health record, sent on stdin
    assert seen["stopping"] is False and seen["data_dir"] == str(data_dir)
    assert seen["pid"] != os.getpid()
    assert store.pending_requests() == []
    with store.transaction() as conn:
        done, ok = conn.execute("SELECT done_at, ok FROM device_request WHERE id = ?",
                                (request.id,)).fetchone()
    assert done is not None and ok == 1
    assert store.read_state(ACTIVITY_KEY) is None


@pytest.mark.parametrize(("name", "message", "details"), [
    ("fails", "the central said no", {"retry_in_seconds": 30}),
    ("raises", "Pack maths-1 is not installed.", {"error": "Conflict"}),
    ("killed", "the task process was killed by SIGKILL", {"signal": "SIGKILL"}),
    ("exits", "the task process exited with code 3 without a result (the agent's log has "
              "its messages)", {"exit_code": 3}),
])
def test_every_failure_is_a_recorded_run_and_the_agent_goes_on(
        make_agent: Callable[..., Agent], store: SqliteStore, clock: FakeClock, name: str,
        message: str, details: dict[str, Any]) -> None:
    agent = make_agent([_tasks()[name]], executor=InlineExecutor())
    clock.advance(60)
    agent.step()  # due: runs in a child, which fails its own way
    result = store.last_task_result(name)
    assert result is not None and not result.ok
    assert (result.message, result.details) == (message, details)
    clock.advance(30)
    assert agent.step() > 0  # the agent is still there and still writes its heartbeat
    beat = store.read_state(AGENT_KEY)
    assert beat is not None and beat[0]["running"] == {}


def test_a_task_keeps_its_state_from_one_child_to_the_next(
        make_agent: Callable[..., Agent], store: SqliteStore, clock: FakeClock) -> None:
    agent = make_agent([_tasks()["counts"]], executor=InlineExecutor())
    messages = []
    for _ in range(3):
        clock.advance(60)
        agent.step()
        result = store.last_task_result("counts")
        assert result is not None
        messages.append(result.message)
    assert messages == ["run 1", "run 2", "run 3"]


def test_the_sync_keeps_its_backoff_between_runs(child_env: Settings) -> None:
    first = SyncTask(child_env)
    first.backoff.next_delay()
    first.backoff.next_delay()
    second = SyncTask(child_env)
    second.load_state(first.save_state())
    assert second.backoff.failures == 2


def test_a_child_past_its_time_limit_is_killed(
        make_agent: Callable[..., Agent], store: SqliteStore, clock: FakeClock,
        data_dir: Path) -> None:
    child_clock = FakeClock()  # the limit is counted on this clock, moved by hand
    task = _tasks(clock=child_clock, stop_grace_seconds=0)["hangs"]
    agent = make_agent([task])
    clock.advance(60)
    agent.step()
    pid_file = data_dir / child_tasks.PID_FILE
    pid = int(_wait_for(lambda: pid_file.exists() and pid_file.read_text()))
    child_clock.advance(2)  # past its 1 s limit: SIGTERM (which it ignores), then SIGKILL
    _wait_for(lambda: agent._running["hangs"].future.done())
    agent.step()
    result = store.last_task_result("hangs")
    assert result is not None and not result.ok
    assert result.message == "stopped: took longer than its limit of 1 s"
    assert result.details == {"timed_out": True, "signal": "SIGKILL"}
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone, and reaped


def test_a_child_that_does_not_exit_after_its_result_is_ended(
        make_agent: Callable[..., Agent], store: SqliteStore, clock: FakeClock,
        data_dir: Path) -> None:
    agent = make_agent([_tasks(stop_grace_seconds=0.2)["lingers"]], executor=InlineExecutor())
    clock.advance(60)
    agent.step()
    result = store.last_task_result("lingers")
    assert result is not None and result.ok and result.message == "done, but a thread lingers"
    with pytest.raises(ProcessLookupError):
        os.kill(int((data_dir / child_tasks.PID_FILE).read_text()), 0)


def test_progress_reaches_the_lights_and_the_database(
        make_agent: Callable[..., Agent], store: SqliteStore, clock: FakeClock,
        data_dir: Path, mock_factory: MockFactory) -> None:
    devices = open_devices(load_settings(env={}, read_default_file=False), mock_factory)
    agent = make_agent([_tasks()["waits"]], devices=devices, hardware=HardwareState("on"))
    store.request("packs_now", "cli")
    clock.advance(2)
    agent.step()  # the child starts on the agent's task thread
    _wait_for(lambda: agent._running.get("waits") and agent._running["waits"].progress)
    agent.step()
    assert agent.lights.showing()["yellow"] == "progress"
    activity = store.read_state(ACTIVITY_KEY)
    assert activity is not None and "progress" not in activity[0]  # not yet: rate-limited
    clock.advance(15)
    agent.step()
    activity = store.read_state(ACTIVITY_KEY)
    assert activity is not None
    assert (activity[0]["progress"], activity[0]["label"]) == (0.5, "half way")
    assert activity[0]["requested_by"] == ["cli"]
    (data_dir / child_tasks.GO_FILE).touch()
    _wait_for(lambda: agent._running["waits"].future.done())
    agent.step()
    result = store.last_task_result("waits")
    assert result is not None and result.ok and result.message == "finished"
    assert store.read_state(ACTIVITY_KEY) is None
    assert agent.lights.showing()["yellow"] == "off"


def test_stopping_the_agent_asks_the_child_to_stop(
        make_agent: Callable[..., Agent], store: SqliteStore, clock: FakeClock) -> None:
    agent = make_agent([_tasks()["waits"]])
    clock.advance(60)
    agent.step()
    _wait_for(lambda: agent._running.get("waits") and agent._running["waits"].progress)
    agent.close()  # SIGTERM to the child: its ctx.stopping() turns true, it returns
    result = store.last_task_result("waits")
    assert result is not None and result.message == "stopped as asked"


def test_a_task_list_that_cannot_be_had_is_a_clear_error(child_env: Settings) -> None:
    with pytest.raises(TaskListError) as caught:
        describe_tasks((sys.executable, "-c", "raise SystemExit(3)"), PACKAGES)
    assert "exited with code 3" in caught.value.render("en")


def test_run_task_by_hand(child_env: Settings, data_dir: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(main, ["agent", "run-task", "works", "--package", PACKAGES[0],
                                "--requested-by", "cli"])
    assert done.exit_code == 0, done.output
    assert "works: ok sent 3 rows" in done.output
    assert child_tasks.seen(data_dir)["requested_by"] == ["cli"]
    failed = runner.invoke(main, ["agent", "run-task", "fails", "--package", PACKAGES[0]])
    assert failed.exit_code == 1 and "fails: failed the central said no" in failed.output
    unknown = runner.invoke(main, ["agent", "run-task", "nope", "--package", PACKAGES[0]])
    assert unknown.exit_code == 1
    assert "No agent task is called nope. Run 'ardoise agent tasks'" in unknown.output
    assert "Traceback" not in unknown.output
