"""The child's side of an agent task: find the tasks other packages plug in, describe
their schedules for the agent, and run one with the context the agent would give it.

`ardoise agent tasks --json` and `ardoise agent run-task NAME` (hardware/cli_tasks.py) are
thin calls into this module; the agent starts them (hardware/child.py). This process may
load everything the tasks need (SQLAlchemy, the sync engine, the hub's models): it lives
only as long as one run.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import IO, Any

from ardoise.settings import Settings
from hardware.agent import outcome
from hardware.child import DEFAULT_PACKAGES
from hardware.discovery import find_central, interfaces_setting
from sync.agent import use_finder

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 0.25  # progress reports faster than this are merged


def plugin_tasks(settings: Settings, packages: Sequence[str] = DEFAULT_PACKAGES) -> list[Any]:
    """Tasks the packages plug into the agent: each may expose
    `agent_tasks(settings) -> list` in its __init__ (the sync engine's opportunistic sync,
    pack updates). The sync engine is first told how to find a central on the local
    network (zeroconf), as it syncs in this process."""
    if settings.discovery_enabled and settings.role == "hub":
        interfaces = interfaces_setting(settings.discovery_interfaces)
        use_finder(lambda: find_central(interfaces=interfaces))
    tasks: list[Any] = []
    for name in packages:
        factory = getattr(importlib.import_module(name), "agent_tasks", None)
        if factory is not None:
            tasks.extend(factory(settings))
    return tasks


def describe(task: Any, settings: Settings) -> dict[str, Any]:
    """What the agent needs to schedule a task (the fields of hardware.child.ChildTask)."""
    timeout = float(getattr(task, "timeout_seconds", 0) or 0)
    return {
        "name": str(task.name),
        "interval_seconds": float(getattr(task, "interval_seconds", 0) or 0),
        "requests": list(getattr(task, "requests", ()) or ()),
        "activity": getattr(task, "activity", None),
        "first_delay_seconds": float(getattr(task, "first_delay_seconds", 0) or 0),
        "timeout_seconds": timeout or float(settings.agent_task_timeout_minutes) * 60,
    }


class ChildContext:
    """What a task gets in the child: the agent's TaskContext methods, over a pipe."""

    def __init__(self, settings: Settings, task: str, requested_by: list[str],
                 sessions: Callable[[], AbstractContextManager[Any]],
                 report: Callable[[dict[str, Any]], None],
                 health: Callable[[], dict[str, Any]], *,
                 parent_pid: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.task = task
        self.requested_by = requested_by  # [] when started by the schedule
        self._sessions = sessions
        self._report = report
        self._health = health
        self._parent_pid = parent_pid
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last_sent = -float("inf")
        self._last_label = ""

    @contextmanager
    def session(self) -> Iterator[Any]:
        with self._sessions() as s:
            yield s

    def progress(self, fraction: float | None, label: str = "") -> None:
        """Tell the agent (the yellow light); reports closer than a quarter second merge,
        except a new label."""
        with self._lock:
            now = self._clock()
            if label == self._last_label and now - self._last_sent < PROGRESS_EVERY_SECONDS:
                return
            self._last_sent, self._last_label = now, label
        try:
            self._report({"progress": fraction, "label": label})
        except OSError:  # the agent is gone: wind down
            self._stop.set()

    def stop(self) -> None:
        """The agent asked this run to stop (SIGTERM)."""
        self._stop.set()

    def stopping(self) -> bool:
        if self._parent_pid is not None and os.getppid() != self._parent_pid:
            self._stop.set()  # the agent died: nobody would record this run
        return self._stop.is_set()

    def health_record(self) -> dict[str, Any]:
        return self._health()


def run(task: Any, ctx: Any) -> dict[str, Any]:
    """Run the task; its result as the agent records it (ok, message, details)."""
    try:
        result = task.run(ctx)
    except Exception as exc:
        log.exception("task %s failed", task.name)
        ok, message, details = outcome(None, exc)
    else:
        ok, message, details = outcome(result)
    return {**details, "ok": ok, "message": message}


def restore_state(task: Any, state: Any) -> None:
    """Give the task what it saved at the end of its previous run (see saved_state)."""
    if state is not None and hasattr(task, "load_state"):
        task.load_state(state)


def saved_state(task: Any) -> Any:
    """What the task keeps for its next run, which is another process: a task may offer
    `save_state() -> JSON-able` and `load_state(state)` (the sync keeps its backoff)."""
    try:
        return task.save_state() if hasattr(task, "save_state") else None
    except Exception:  # state is a bonus: never lose the result over it
        log.exception("task %s could not save its state", task.name)
        return None


def line_writer(stream: IO[str]) -> Callable[[dict[str, Any]], None]:
    """Send JSON objects one a line (the pipe to the agent)."""
    lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        text = json.dumps(message, default=str, ensure_ascii=False) + "\n"
        with lock:
            stream.write(text)
            stream.flush()

    return send


__all__ = ["ChildContext", "describe", "line_writer", "plugin_tasks", "restore_state", "run",
           "saved_state"]
