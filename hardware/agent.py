"""The device agent (`ardoise agent`): status sampling, lights, button, and the periodic
tasks other packages plug in (the sync engine's opportunistic sync, pack updates).

One loop, woken only when something is due: the next light change, the next status
sample, the next look for requests in the database, the next task, or a button edge. It
sleeps otherwise, so the idle agent costs almost nothing. Tasks run one at a time on a
worker thread, so the lights and the button keep answering during a long sync.

Writes to the SD card are few: the heartbeat (`device_state` key "agent") is written when
what it says changes (lights, problems) and otherwise at most every
`status_write_seconds`; a running task's progress at most every ACTIVITY_WRITE_SECONDS; a
task's result when it ends.

The agent reads and writes the database through `hardware.store.SqliteStore` (plain
sqlite3), and the tasks other packages plug in run in a child process each
(`hardware.child`), so the long-running process never loads SQLAlchemy, Flask or the sync
engine (docs/decisions.md, "The device agent stays small").

Plugging a task in: a package exposes `agent_tasks(settings) -> list` of objects with
`name`, `run(ctx)` and optionally `interval_seconds` (0: only on request), `requests`
(request kinds that start it at once, e.g. ("sync_now",)), `activity` ("syncing": the
yellow light blinks while it runs) and `first_delay_seconds`. `run` gets a TaskContext
and returns None (success), a dict ({"ok": False, "message": ..., ...details}) or raises.
In `ardoise agent` each run is a child process (`hardware.child.ChildTask`), whose context
(`hardware.task_runner.ChildContext`) offers the same methods; a task that keeps state
between runs (a backoff) offers `save_state() -> JSON-able` and `load_state(state)`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

from ardoise.clock import utcnow
from ardoise.device_protocol import ACTIVITY_KEY, AGENT_KEY
from ardoise.errors import ArdoiseError
from ardoise.settings import Settings
from hardware import lights as L
from hardware import problems as P
from hardware.button import Action, ButtonLogic, Phase
from hardware.lights import Devices, Lights, Pattern
from hardware.status import DeviceStatus, Sampler, health_record
from hardware.store import Request, SqliteStore

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # how often the agent looks for requests ("sync now") in the database
WEB_GRACE_SECONDS = 60.0  # the web process may take this long to answer after a start
RESTORE_SHOW_SECONDS = 2.0
STOP_WAIT_SECONDS = 10.0
ACTIVITY_WRITE_SECONDS = 15.0  # at most this often, a running task's progress is written


class AgentTask(Protocol):
    name: str

    def run(self, ctx: TaskContext) -> Any: ...


@dataclass
class PeriodicTask:
    """A ready-made AgentTask (any object with these attributes will do)."""

    name: str
    run: Callable[[TaskContext], Any]
    interval_seconds: float = 0.0
    requests: tuple[str, ...] = ()
    activity: str | None = None
    first_delay_seconds: float = 0.0


class TaskContext:
    """What a running task gets from the agent."""

    def __init__(self, agent: Agent, task: str, requested_by: list[str]) -> None:
        self._agent = agent
        self.task = task
        self.requested_by = requested_by  # [] when started by the schedule
        self.settings = agent.settings

    @contextmanager
    def session(self) -> Iterator[Any]:
        """An SQLAlchemy session, for tasks run in this process (tests); `ardoise agent`
        runs its tasks in a child process, whose context has its own sessions."""
        if self._agent.sessions is None:
            raise RuntimeError("the agent process has no SQLAlchemy sessions: its tasks run "
                               "in a child process (hardware.child)")
        with self._agent.sessions() as s:
            yield s

    def progress(self, fraction: float | None, label: str = "") -> None:
        """Report progress (0 to 1, or None when unknown): the yellow light shows it."""
        self._agent._set_progress(self.task, fraction, label)

    def stopping(self) -> bool:
        """True when the agent is stopping: finish the current frame and return."""
        return self._agent._stop.is_set()

    def health_record(self) -> dict[str, Any]:
        """The latest device status as the record sent to the central with a sync."""
        return self._agent.health_record()


@dataclass
class _Running:
    task: Any
    future: Future[Any]
    started: dt.datetime
    request_ids: list[int]
    requested_by: list[str] = field(default_factory=list)
    progress: float | None = None
    label: str = ""
    written: tuple[float | None, str] = (None, "")  # progress last written to the database
    written_at: float = 0.0


@dataclass
class _TaskSlot:
    task: Any
    next_due: float | None  # None: only on request


def run_shell(command: str) -> int:
    """Run a configured command (shutdown, network restore); its exit status."""
    try:
        return subprocess.run(shlex.split(command), check=False, timeout=120).returncode
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("command %r failed: %s", command, exc)
        return 127


class InlineExecutor:
    """Runs tasks at once in the caller's thread (tests, `--once`)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


@dataclass
class HardwareState:
    mode: str  # "on", "off" (no GPIO / disabled), "error" (bad pin settings)
    reason: str = ""


@dataclass
class Agent:
    settings: Settings
    store: SqliteStore
    sampler: Sampler
    devices: Devices | None = None
    hardware: HardwareState = field(default_factory=lambda: HardwareState("off"))
    tasks: Sequence[Any] = ()
    announcer: Any = None
    announcement: Callable[[], Any] | None = None  # what to announce now (school may change)
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], dt.datetime] = utcnow
    executor: Any = None
    run_command: Callable[[str], int] = run_shell
    poll_seconds: float = POLL_SECONDS
    sessions: Callable[[], Any] | None = None  # SQLAlchemy sessions for in-process tasks

    def __post_init__(self) -> None:
        outputs = dict(self.devices.outputs) if self.devices else {}
        self.lights = Lights(outputs)
        self.button = ButtonLogic(float(self.settings.hw_hold_shutdown_seconds),
                                  float(self.settings.hw_hold_restore_seconds))
        self.executor = self.executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="ardoise-task")
        self._events: queue.SimpleQueue[tuple[str, float]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._slots = {t.name: _TaskSlot(t, None) for t in self.tasks}
        self._running: dict[str, _Running] = {}
        self._status: DeviceStatus | None = None
        self._next_sample = 0.0
        self._next_poll = 0.0
        self._last_write = -float("inf")
        self._last_written: Any = None
        self._mode = "normal"  # "shutting_down", "restoring"
        self._mode_until = 0.0
        self._ack_request = False  # a press was taken: show it until the request is seen
        self._started_mono = 0.0
        self._started_wall = self.wall()
        self._stopped = False

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> None:
        now = self.clock()
        self._started_mono = now
        for slot in self._slots.values():
            interval = float(getattr(slot.task, "interval_seconds", 0) or 0)
            first = float(getattr(slot.task, "first_delay_seconds", 0) or 0)
            slot.next_due = now + (first or interval) if interval > 0 else None
        button = self.devices.button if self.devices else None
        if button is not None:
            self.button.start(bool(button.is_pressed), now)
            button.when_pressed = lambda: self._event("pressed")
            button.when_released = lambda: self._event("released")
        if self.hardware.mode == "off":
            log.warning("running without lights and button: %s", self.hardware.reason)
        elif self.hardware.mode == "error":
            log.error("lights and button disabled: %s", self.hardware.reason)
        if self.announcer is not None:
            try:
                self.announcer.start()
            except Exception as exc:  # no network yet: the hub still serves by address
                log.warning("could not announce the hub on the network: %s", exc)

    def run_forever(self) -> None:
        """Loop until stop() (SIGTERM in `ardoise agent`)."""
        self.start()
        try:
            while not self._stop.is_set():
                delay = self.step()
                self._wake.wait(timeout=delay)
                self._wake.clear()
        finally:
            self.close()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        self.executor.shutdown(wait=False, cancel_futures=True)
        for running in list(self._running.values()):
            with suppress(Exception):
                running.future.result(timeout=STOP_WAIT_SECONDS)
        self._collect_finished()
        if self.announcer is not None:
            self.announcer.close()
        self.sampler.close()
        self.lights.close()
        if self.devices is not None:
            self.devices.close()
        try:
            self._write_heartbeat(stopped=True)
        except Exception:
            log.warning("could not write the last heartbeat", exc_info=True)

    # -- one turn of the loop ----------------------------------------------------------

    def step(self) -> float:
        """Do whatever is due now; seconds until something else is due."""
        now = self.clock()
        self._handle_button(now)
        self._collect_finished()
        if self._mode == "normal":
            if now >= self._next_poll:
                self._poll_requests()
                self._next_poll = now + self.poll_seconds
            self._start_due_tasks(now)
            self._collect_finished()  # tasks that ended at once (inline, or very short)
        if self._mode == "restoring" and now >= self._mode_until:
            self._mode = "normal"
        if now >= self._next_sample:
            self._sample(now)
        self._show(now)
        deadlines = [self.lights.update(now), self._next_sample]
        if self._mode == "normal":
            deadlines.append(self._next_poll)
            deadlines += [s.next_due for s in self._slots.values()
                          if s.next_due is not None and s.task.name not in self._running]
        if self._mode == "restoring":
            deadlines.append(self._mode_until)
        progress_due = self._write_progress(now)
        if progress_due is not None:
            deadlines.append(progress_due)
        nxt = self.button.next_change(now)
        if nxt is not None:
            deadlines.append(nxt)
        self._maybe_write_heartbeat(now)
        return max(0.0, min(deadlines) - now)

    # -- button ------------------------------------------------------------------------

    def _event(self, kind: str) -> None:
        """Called from gpiozero's callback thread: queue the edge and wake the loop."""
        self._events.put((kind, self.clock()))
        self._wake.set()

    def _handle_button(self, now: float) -> None:
        actions: list[Action] = []
        while True:
            try:
                kind, at = self._events.get_nowait()
            except queue.Empty:
                break
            if kind == "pressed":
                self.button.pressed(at)
            else:
                action = self.button.released(at)
                if action is not None:
                    actions.append(action)
        tick = self.button.tick(now)
        if tick is not None:
            actions.append(tick)
        for action in actions:
            self._do(action, now)

    def _do(self, action: Action, now: float) -> None:
        log.info("button: %s", action.value)
        if self._mode == "shutting_down":
            return
        if action == Action.SYNC_NOW:
            self.lights.show("buzzer", L.beeps(1), now)
            self.store.request_sync_now("button", now=self.wall())
            self._ack_request = True
            self._next_poll = now  # pick it up on this very turn
        elif action == Action.SHUTDOWN:
            self._mode = "shutting_down"
            self.lights.show("buzzer", L.beeps(3), now)
            self._show(now)
            self.lights.update(now)
            self._write_heartbeat()
            code = self.run_command(self.settings.hw_shutdown_command)
            if code != 0:
                log.error("the shutdown command %r exited with %s",
                          self.settings.hw_shutdown_command, code)
                self._mode = "normal"
        elif action == Action.RESTORE_NETWORK:
            self._mode, self._mode_until = "restoring", now + RESTORE_SHOW_SECONDS
            self.lights.show("buzzer", L.beeps(2), now)
            self._show(now)
            self.lights.update(now)
            code = self.run_command(self.settings.hw_restore_network_command)
            if code != 0:
                log.error("the network restore command %r exited with %s",
                          self.settings.hw_restore_network_command, code)

    # -- tasks -------------------------------------------------------------------------

    def _poll_requests(self) -> None:
        if not self.store.pending_requests():  # the usual case: one cheap read, no lock
            self._ack_request = False
            return
        by_kind: dict[str, str] = {}
        for slot in self._slots.values():
            for kind in getattr(slot.task, "requests", ()) or ():
                by_kind.setdefault(kind, slot.task.name)
        started: list[tuple[Any, list[Request]]] = []
        with self.store.transaction():
            wanted: dict[str, list[Request]] = {}
            orphans: list[int] = []
            for req in self.store.pending_requests():
                name = by_kind.get(req.kind)
                if name is None:
                    orphans.append(req.id)
                elif name not in self._running:
                    wanted.setdefault(name, []).append(req)
            now_wall = self.wall()
            if orphans:
                self.store.take_requests(orphans, now=now_wall)
                self.store.finish_requests(
                    orphans, ok=False, message="nothing on this device handles this request",
                    now=now_wall)
            for name, reqs in wanted.items():
                self.store.take_requests([r.id for r in reqs], now=now_wall)
                started.append((self._slots[name].task, reqs))
        self._ack_request = False
        for task, reqs in started:
            self._launch(task, sorted({r.source for r in reqs}), [r.id for r in reqs])

    def _start_due_tasks(self, now: float) -> None:
        for slot in self._slots.values():
            if (slot.next_due is not None and now >= slot.next_due
                    and slot.task.name not in self._running and not self._running):
                self._launch(slot.task, [], [])

    def _launch(self, task: Any, requested_by: list[str], request_ids: list[int]) -> None:
        started = self.wall()
        running = _Running(task, Future(), started, request_ids, requested_by,
                           written_at=self.clock())
        if getattr(task, "activity", None):
            self.store.write_state(ACTIVITY_KEY, self._activity(running), now=started)
        ctx = TaskContext(self, task.name, requested_by)
        log.info("task %s starts (%s)", task.name, ", ".join(requested_by) or "schedule")
        with self._lock:
            self._running[task.name] = running
        running.future = self.executor.submit(self._run_task, task, ctx)

    @staticmethod
    def _activity(running: _Running) -> dict[str, Any]:
        """The `activity` document: what the status page shows while a task runs."""
        doc: dict[str, Any] = {
            "task": running.task.name, "activity": running.task.activity,
            "since": running.started.isoformat(timespec="seconds"),
            "requested_by": running.requested_by}
        if running.written != (None, ""):
            doc["progress"], doc["label"] = running.written
        return doc

    def _write_progress(self, now: float) -> float | None:
        """Write the progress of running tasks, at most every ACTIVITY_WRITE_SECONDS;
        when the next write is due, if one is waiting."""
        with self._lock:
            busy = [r for r in self._running.values() if getattr(r.task, "activity", None)
                    and (r.progress, r.label) != r.written]
        due: float | None = None
        for running in busy:
            at = running.written_at + ACTIVITY_WRITE_SECONDS
            if now < at:
                due = at if due is None else min(due, at)
                continue
            with self._lock:
                running.written, running.written_at = (running.progress, running.label), now
            if not running.future.done():  # an ended task clears the document instead
                self.store.write_state(ACTIVITY_KEY, self._activity(running), now=self.wall())
        return due

    def _run_task(self, task: Any, ctx: TaskContext) -> Any:
        try:
            return task.run(ctx)
        finally:
            self._wake.set()

    def _set_progress(self, name: str, fraction: float | None, label: str) -> None:
        with self._lock:
            running = self._running.get(name)
            if running is not None:
                running.progress, running.label = fraction, label
        self._wake.set()

    def _collect_finished(self) -> None:
        with self._lock:
            done = [r for r in self._running.values() if r.future.done()]
        for running in done:
            name = running.task.name
            ok, message, details = _outcome(running.future)
            (log.info if ok else log.warning)("task %s ended: %s %s", name,
                                              "ok" if ok else "failed", message)
            with self.store.transaction():
                self.store.record_task_result(name, ok=ok, message=message, details=details,
                                              started_at=running.started, now=self.wall())
                self.store.finish_requests(running.request_ids, ok=ok, message=message,
                                           now=self.wall())
                if getattr(running.task, "activity", None):
                    self.store.clear_state(ACTIVITY_KEY)
            with self._lock:
                self._running.pop(name, None)
            slot = self._slots.get(name)
            interval = float(getattr(running.task, "interval_seconds", 0) or 0)
            if slot is not None:
                slot.next_due = self.clock() + interval if interval > 0 else None
            self._next_sample = 0.0  # show the new result at once
            self._next_poll = 0.0  # a request made meanwhile starts the task again

    # -- status and lights -------------------------------------------------------------

    def _sample(self, now: float) -> None:
        status = self.sampler.sample()
        if (P.WEB_DOWN in status.problems
                and now - self._started_mono < WEB_GRACE_SECONDS):
            status.problems.remove(P.WEB_DOWN)  # still starting: green blinks instead
        self._status = status
        self._next_sample = now + float(self.settings.status_interval_seconds)
        if self.announcer is not None and self.announcement is not None:
            try:  # after enrolment the school is known: announce it under its name
                self.announcer.update(self.announcement())
            except Exception as exc:
                log.warning("could not update the announcement: %s", exc)

    @property
    def status(self) -> DeviceStatus | None:
        return self._status

    def health_record(self) -> dict[str, Any]:
        status = self._status or self.sampler.sample()
        record = health_record(status)
        record["agent"] = self._heartbeat()
        return record

    def _patterns(self, now: float) -> dict[str, Pattern]:
        phase = self.button.phase(now)
        if self._mode == "shutting_down":
            return {"green": L.OFF, "yellow": L.OFF, "red": L.ON}
        if self._mode == "restoring":
            return {"green": L.ON, "yellow": L.ON, "red": L.ON}
        if phase == Phase.ARMED:
            return {"green": L.FAST_BLINK, "yellow": L.FAST_BLINK, "red": L.FAST_BLINK}
        if phase == Phase.CANCELLED:
            return {"green": L.OFF, "yellow": L.OFF, "red": L.OFF}
        if phase in (Phase.BOOT_HOLD, Phase.BOOT_DONE):
            return {"green": L.OFF, "yellow": L.FAST_BLINK, "red": L.OFF}
        status = self._status
        green = L.ON
        if status is not None and status.web_ok is False:
            green = (L.SLOW_BLINK if now - self._started_mono < WEB_GRACE_SECONDS else L.OFF)
        with self._lock:
            busy = [r for r in self._running.values() if getattr(r.task, "activity", None)]
        if busy:
            yellow = L.progress(busy[0].progress)
        elif self._ack_request or (status is not None and status.sync_requested):
            yellow = L.ON
        else:
            yellow = L.OFF
        code = status.blink_code if status is not None else None
        red = L.code(code) if code else L.OFF
        return {"green": green, "yellow": yellow, "red": red}

    def _show(self, now: float) -> None:
        for name, pattern in self._patterns(now).items():
            self.lights.show(name, pattern, now)

    # -- heartbeat -----------------------------------------------------------------------

    def _heartbeat(self, stopped: bool = False) -> dict[str, Any]:
        status = self._status
        with self._lock:
            running = {n: {"progress": r.progress, "label": r.label}
                       for n, r in self._running.items()}
        return {
            "pid": os.getpid(),
            "started_at": self._started_wall.isoformat(timespec="seconds"),
            "stopped": stopped,
            "hardware": self.hardware.mode,
            "hardware_reason": self.hardware.reason,
            "lights": {k: v for k, v in self.lights.showing().items() if k != "buzzer"},
            "problems": [p.code for p in status.problems] if status else [],
            "running": running,
            "tasks": sorted(self._slots),
        }

    def _maybe_write_heartbeat(self, now: float) -> None:
        beat = self._heartbeat()
        key = (beat["hardware"], tuple(sorted(beat["lights"].items())),
               tuple(beat["problems"]), tuple(sorted(beat["running"])))
        if key == self._last_written and now - self._last_write < float(
                self.settings.status_write_seconds):
            return
        self._write_heartbeat(beat=beat)
        self._last_written, self._last_write = key, now

    def _write_heartbeat(self, stopped: bool = False,
                         beat: dict[str, Any] | None = None) -> None:
        self.store.write_state(AGENT_KEY, beat or self._heartbeat(stopped), now=self.wall())


def _outcome(future: Future[Any]) -> tuple[bool, str, dict[str, Any]]:
    exc = future.exception()
    return outcome(None if exc is not None else future.result(), exc)


def outcome(result: Any, exc: BaseException | None = None
            ) -> tuple[bool, str, dict[str, Any]]:
    """How a task's run ended: ok, message, details; from what `run` returned or raised."""
    if exc is not None:
        message = exc.render("en") if isinstance(exc, ArdoiseError) else (
            str(exc) or type(exc).__name__)
        return False, message, {"error": type(exc).__name__}
    if isinstance(result, dict):
        details = {k: v for k, v in result.items() if k not in ("ok", "message")}
        return bool(result.get("ok", True)), str(result.get("message", "")), details
    return True, "", {}


__all__ = ["Agent", "AgentTask", "HardwareState", "InlineExecutor", "PeriodicTask",
           "TaskContext", "outcome", "run_shell"]
