"""What a pack transfer tells the technician page and the agent: its progress as a small
state document in the database (the web and the agent share only the database and the
data folder), written at most every few seconds to spare the SD card; and the queue of
installs asked for on the page (packs found on a USB stick), which the agent carries out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.orm import Session

from ardoise import device
from ardoise.db import utcnow
from content_packs.pull import PullProgress

TRANSFER_KEY = "packs:transfer"
QUEUE_KEY = "packs:queue"
TASK_NAME = "packs"
REQUEST_KIND = "packs_now"
MAX_QUEUE = 20

Sessions = Callable[[], AbstractContextManager[Session]]


def write_transfer(session: Session, data: dict[str, Any]) -> None:
    device.write_state(session, TRANSFER_KEY, {**data, "at": utcnow().isoformat()})


def read_transfer(session: Session) -> dict[str, Any] | None:
    """The last transfer's progress (its phase says whether it is running)."""
    found = device.read_state(session, TRANSFER_KEY)
    return found[0] if found else None


class StatusRecorder:
    """A progress callback that writes the transfer's status: at each change of phase, and
    otherwise at most every `interval` seconds."""

    def __init__(self, sessions: Sessions, interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 also: Callable[[PullProgress], None] | None = None) -> None:
        self.sessions = sessions
        self.interval = interval
        self.clock = clock
        self.also = also
        self.last: PullProgress | None = None
        self._written_at = -float("inf")
        self._phase = ""

    def __call__(self, progress: PullProgress) -> None:
        self.last = progress
        if self.also is not None:
            self.also(progress)
        now = self.clock()
        if progress.phase != self._phase or now - self._written_at >= self.interval:
            self._phase = progress.phase
            self._written_at = now
            self._write(progress.to_dict())

    def finish(self, ok: bool, message: str = "") -> None:
        data = self.last.to_dict() if self.last else {}
        data.update(phase="done" if ok else "failed", message=message)
        self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        with self.sessions() as s:
            write_transfer(s, data)
            s.commit()


def queue_install(session: Session, location: str, pack_id: str, version: str,
                  source: str = "web") -> None:
    """Ask the agent to install a pack found in a folder (a USB stick); caller commits."""
    found = device.read_state(session, QUEUE_KEY)
    jobs = list(found[0].get("jobs", [])) if found else []
    job = {"location": location, "pack": pack_id, "version": version}
    if job not in jobs:
        jobs = [*jobs, job][-MAX_QUEUE:]
    device.write_state(session, QUEUE_KEY, {"jobs": jobs})
    if REQUEST_KIND in device.REQUEST_KINDS:
        device.request(session, REQUEST_KIND, source)


def queued_installs(session: Session) -> list[dict[str, str]]:
    found = device.read_state(session, QUEUE_KEY)
    return list(found[0].get("jobs", [])) if found else []


def take_queue(session: Session) -> list[dict[str, str]]:
    """The queued installs, removed from the queue (caller commits)."""
    jobs = queued_installs(session)
    if jobs:
        device.clear_state(session, QUEUE_KEY)
    return jobs


__all__ = [
    "QUEUE_KEY",
    "REQUEST_KIND",
    "TASK_NAME",
    "TRANSFER_KEY",
    "StatusRecorder",
    "queue_install",
    "queued_installs",
    "read_transfer",
    "take_queue",
    "write_transfer",
]
