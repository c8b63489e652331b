"""The database part of the status read through an SQLAlchemy session: what the web
process and `ardoise status` use (on the central, the database may be PostgreSQL). The
agent reads the same rows with `hardware.store.SqliteStore`; tests/hardware/test_store.py
checks both give the same answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise import device
from ardoise.device_protocol import TaskResult
from content_packs.catalog import InstalledPack


class SessionReader:
    """A `hardware.collectors.DeviceReader` over one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def read_state(self, key: str) -> tuple[dict[str, Any], dt.datetime] | None:
        return device.read_state(self.session, key)

    def last_task_result(self, task: str) -> TaskResult | None:
        return device.last_task_result(self.session, task)

    def has_pending(self, kind: str) -> bool:
        return bool(device.pending_requests(self.session, [kind]))

    def active_packs(self) -> list[tuple[str, str]]:
        return [(p.pack_id, p.version) for p in self.session.scalars(
            select(InstalledPack).where(InstalledPack.active.is_(True))
            .order_by(InstalledPack.pack_id))]


__all__ = ["SessionReader"]
