"""A hub and a central through an emulated satellite link (256 kbit/s, 600 ms, cuts)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.models import ProgressEvent, ProgressKind
from hub.sync_registry import registry
from sync import hubside
from sync.client import SyncUnavailable
from tests.factories import World, make_world
from tests.hub.central.conftest import Central, HubSide
from tests.hub.central.test_end_to_end import _token
from tests.sync.linkemu import LinkEmulator

pytestmark = pytest.mark.slow


def _events(sessions: object, world: World, n: int, tag: str) -> None:
    with sessions() as s:  # type: ignore[operator]
        s.add_all([ProgressEvent(school_id=world.school.id, classroom_id=world.classroom.id,
                                 user_id=world.students[i % len(world.students)].id,
                                 resource_uid=f"{tag}/lecon-{i}", kind=ProgressKind.OPENED)
                   for i in range(n)])
        s.commit()


def _count(sessions: object) -> int:
    with sessions() as s:  # type: ignore[operator]
        return s.scalar(select(func.count()).select_from(ProgressEvent))


def test_thousand_records_each_way_then_a_cut(central: Central, hub_side: HubSide) -> None:
    world = make_world(central.app, n_students=5)
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, _token(central, world))
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    link = LinkEmulator(central.server.server_port, rate_bps=256_000, rtt=0.6)
    try:
        _events(hub_side.sessions, world, 1000, "hub")
        _events(central.sessions, world, 1000, "central")
        stats = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir, url=link.url)
        assert stats.pushed_rows == 0 or stats.requests <= 3
        assert stats.requests <= 3
        assert link.total_bytes < 100_000
        assert _count(hub_side.sessions) == _count(central.sessions) == 2000
        # a cut in the middle of a bigger push: the next sync resumes, nothing duplicated
        _events(hub_side.sessions, world, 6000, "more")
        before = link.up.bytes
        link.cut_after(40_000)
        with pytest.raises(SyncUnavailable):
            hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir, url=link.url,
                             read_timeout=10)
        hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir, url=link.url)
        assert _count(hub_side.sessions) == _count(central.sessions) == 8000
        with central.sessions() as s:
            uids = s.scalars(select(ProgressEvent.resource_uid)).all()
        assert len(uids) == len(set(uids))
        assert link.up.bytes - before < 400_000
    finally:
        link.close()
