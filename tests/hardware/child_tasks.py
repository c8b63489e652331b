"""Agent tasks for the child-process tests: a package exposing `agent_tasks(settings)`, as
`sync` and `content_packs` do, loaded in the child with `--package
tests.hardware.child_tasks`. Files in data_dir let a test see and steer a running child."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from ardoise import device
from ardoise.errors import Conflict
from ardoise.i18n import N_

GO_FILE = "child-go"  # the waiting tasks finish once this file exists
PID_FILE = "child-pid"
SEEN_KEY = "test:child"


class Task:
    interval_seconds = 60.0
    requests: tuple[str, ...] = ()
    activity: str | None = None
    first_delay_seconds = 0.0

    def __init__(self, settings: Any) -> None:
        self.data_dir = Path(settings.data_dir)

    def started(self) -> None:
        (self.data_dir / PID_FILE).write_text(str(os.getpid()))


class Works(Task):
    """Uses every context method and records what it saw in device_state."""

    name = "works"
    requests = ("sync_now",)
    activity = "syncing"

    def run(self, ctx: Any) -> dict[str, Any]:
        self.started()
        health = ctx.health_record()
        with ctx.session() as s:
            device.write_state(s, SEEN_KEY, {
                "requested_by": ctx.requested_by, "task": ctx.task,
                "health_schema": health.get("schema"), "stopping": ctx.stopping(),
                "data_dir": str(ctx.settings.data_dir), "pid": os.getpid()})
            s.commit()
        ctx.progress(1.0, "all done")
        return {"ok": True, "message": "sent 3 rows", "rows": 3}


class Fails(Task):
    name = "fails"

    def run(self, ctx: Any) -> dict[str, Any]:
        return {"ok": False, "message": "the central said no", "retry_in_seconds": 30}


class Raises(Task):
    name = "raises"

    def run(self, ctx: Any) -> None:
        raise Conflict(N_("Pack %(pack)s is not installed."), pack="maths-1")


class Killed(Task):
    name = "killed"

    def run(self, ctx: Any) -> None:
        self.started()
        os.kill(os.getpid(), signal.SIGKILL)


class Exits(Task):
    name = "exits"

    def run(self, ctx: Any) -> None:
        os._exit(3)


class Hangs(Task):
    """Never looks at ctx.stopping() and ignores SIGTERM: only SIGKILL ends it."""

    name = "hangs"
    timeout_seconds = 1.0

    def run(self, ctx: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.started()
        while True:
            time.sleep(0.05)


class Waits(Task):
    """Reports progress, then waits for the go file or for the agent to stop."""

    name = "waits"
    requests = ("packs_now",)
    activity = "syncing"

    def run(self, ctx: Any) -> dict[str, Any]:
        self.started()
        ctx.progress(0.5, "half way")
        while not (self.data_dir / GO_FILE).exists():
            if ctx.stopping():
                return {"ok": False, "message": "stopped as asked"}
            time.sleep(0.02)
        return {"ok": True, "message": "finished"}


class Lingers(Task):
    """Returns, but leaves a thread that keeps the process from exiting."""

    name = "lingers"

    def run(self, ctx: Any) -> dict[str, Any]:
        self.started()
        threading.Thread(target=time.sleep, args=(3600,), name="lingering").start()
        return {"ok": True, "message": "done, but a thread lingers"}


class Counts(Task):
    """Keeps a count between runs, as the sync keeps its backoff."""

    name = "counts"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.runs = 0

    def save_state(self) -> dict[str, int]:
        return {"runs": self.runs}

    def load_state(self, state: dict[str, int]) -> None:
        self.runs = state["runs"]

    def run(self, ctx: Any) -> dict[str, Any]:
        self.runs += 1
        return {"ok": True, "message": f"run {self.runs}"}


def agent_tasks(settings: Any) -> list[Task]:
    return [cls(settings) for cls in (Works, Fails, Raises, Killed, Exits, Hangs, Waits,
                                      Lingers, Counts)]


def seen(data_dir: Path) -> dict[str, Any]:
    """What the Works task recorded, read without the ORM."""
    with closing(sqlite3.connect(data_dir / "ardoise.db")) as conn:
        row = conn.execute("SELECT data FROM device_state WHERE key = ?", (SEEN_KEY,)).fetchone()
    return json.loads(row[0]) if row else {}
