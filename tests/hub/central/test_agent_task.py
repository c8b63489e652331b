"""The agent's sync task: windows, "sync now", backoff when the central is unreachable."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ardoise.errors import Invalid
from ardoise.settings import load_settings
from hub.central import fleet
from hub.models import User
from sync import agent as sync_agent
from sync import hubside
from sync.agent import SyncTask, in_windows, parse_windows
from sync.client import Backoff
from sync.tables import SyncEnrollment
from tests.factories import make_world
from tests.hub.central.conftest import Central, HubSide


class Ctx:
    def __init__(self, hub: HubSide, requested_by: list[str] | None = None) -> None:
        self.hub, self.requested_by = hub, requested_by or []
        self.progressed: list[float | None] = []

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.hub.sessions() as s:
            yield s

    def progress(self, fraction: float | None, label: str = "") -> None:
        self.progressed.append(fraction)

    def stopping(self) -> bool:
        return False

    def health_record(self) -> dict[str, Any]:
        return {"disk_free_mb": 1234, "version": "test"}


def _task(hub: HubSide, **settings: Any) -> tuple[SyncTask, list[float]]:
    slept: list[float] = []
    s = load_settings(read_default_file=False, env={},
                      overrides={"data_dir": str(hub.data_dir), "language": "en", **settings})
    task = SyncTask(s, sleep=slept.append)
    return task, slept


def test_windows() -> None:
    w = parse_windows("22:00-06:00, 12:00-13:00")
    assert in_windows(dt.time(23, 30), w) and in_windows(dt.time(5, 0), w)
    assert in_windows(dt.time(12, 30), w) and not in_windows(dt.time(9, 0), w)
    assert in_windows(dt.time(9, 0), [])
    with pytest.raises(Invalid, match="HH:MM-HH:MM"):
        parse_windows("nuit")


def test_outside_windows_waits_unless_asked(hub_side: HubSide) -> None:
    task, _ = _task(hub_side, sync_windows="01:00-02:00")
    task.local_time = lambda: dt.time(10, 0)
    assert task.run(Ctx(hub_side))["skipped"] is True
    result = task.run(Ctx(hub_side, ["web"]))  # "sync now" ignores the windows
    assert result["ok"] is False and "not enrolled" in result["message"]
    french, _ = _task(hub_side, language="fr_CA")  # messages in the hub's language
    assert "inscrit" in french.run(Ctx(hub_side, ["web"]))["message"]


def test_unreachable_central_backs_off_then_reports(central: Central, hub_side: HubSide
                                                    ) -> None:
    world = make_world(central.app, n_students=1)
    with central.sessions() as s:
        token = fleet.create_token(s, world.school.id)
        s.commit()
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, token)
    task, slept = _task(hub_side, sync_central_url="http://127.0.0.1:9",
                        sync_interval_minutes=2)
    task.backoff = Backoff(base=5, cap=60)
    result = task.run(Ctx(hub_side))
    assert result["ok"] is False and "unreachable" in result["message"]
    assert sum(slept) <= 120 and len(slept) >= 5  # retried, with growing pauses
    # then the central is back: the next run syncs, sends health, and resets the backoff
    task.settings = load_settings(read_default_file=False, env={},
                                  overrides={"data_dir": str(hub_side.data_dir),
                                             "language": "en"})
    ctx = Ctx(hub_side, ["web"])
    result = task.run(ctx)
    assert result["ok"] is True and result["rows_received"] > 0
    assert task.backoff.failures == 0
    with hub_side.sessions() as s, central.sessions() as c:
        count = select(func.count()).select_from(User)
        assert s.scalar(count) == c.scalar(count) == 5
    with central.sessions() as s:
        hub = s.scalars(select(fleet.CentralHub)).one()
        assert '"disk_free_mb": 1234' in hub.health


def test_central_found_on_the_local_network_when_its_address_fails(
        central: Central, hub_side: HubSide, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(central.app, n_students=1)
    with central.sessions() as s:
        token = fleet.create_token(s, world.school.id)
        s.commit()
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, token)
    with hub_side.engine.begin() as conn:  # the hub was carried away from its usual link
        conn.execute(update(SyncEnrollment.__table__).values(
            central_url="http://127.0.0.1:9"))
    monkeypatch.setattr(sync_agent, "_finder", lambda: central.url)
    task, slept = _task(hub_side)
    result = task.run(Ctx(hub_side, ["button"]))
    assert result["ok"] is True and 0 < sum(slept) <= 5  # one pause, then found
