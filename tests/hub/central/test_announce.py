"""A central announces itself on the local network while `ardoise serve` runs; a hub
carried to the service centre's office finds it with the sync agent's finder and syncs
there, but only with a server that proves it holds its central's key. zeroconf on
127.0.0.1 only; every announcer and browser is closed (the suite checks threads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from ardoise.settings import Settings, load_settings
from hardware.discovery import find_central
from hardware.task_runner import plugin_tasks
from hub import serve
from hub.central import announce, fleet
from hub.models import ProgressEvent, ProgressKind
from hub.sync_registry import registry
from sync import agent as sync_agent
from sync import hubside
from sync.agent import SyncTask
from sync.client import Backoff
from sync.tables import SyncEnrollment
from tests.factories import World, make_world
from tests.hub.central.conftest import Central, HubSide
from tests.hub.central.test_agent_task import Ctx
from tests.hub.central.test_end_to_end import _token

LOOPBACK = "127.0.0.1"


def _central_settings(central: Central, **extra: Any) -> Settings:
    port = central.server.server_port
    return load_settings(read_default_file=False, env={}, overrides={
        "role": "central", "data_dir": central.app.extensions["ardoise.settings"].data_dir,
        "discovery_interfaces": LOOPBACK, "hub_url": f"http://central.lan:{port}/", **extra})


def _carried_away(central: Central, hub_side: HubSide) -> World:
    """An enrolled hub whose usual address of the central does not answer here, with a
    student's work to send."""
    world = make_world(central.app, n_students=1)
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, _token(central, world),
                   language="en")
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    with hub_side.engine.begin() as conn:
        conn.execute(update(SyncEnrollment.__table__).values(central_url="http://127.0.0.1:9"))
    with hub_side.sessions() as s:
        s.add(ProgressEvent(school_id=world.school.id, classroom_id=world.classroom.id,
                            user_id=world.students[0].id, resource_uid="bureau/1",
                            kind=ProgressKind.FINISHED))
        s.commit()
    return world


def _sent(central: Central) -> int:
    with central.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(ProgressEvent).where(
            ProgressEvent.resource_uid == "bureau/1")))


def test_serve_announces_the_central_and_the_hubs_agent_syncs_there(
        central: Central, hub_side: HubSide, monkeypatch: pytest.MonkeyPatch) -> None:
    _carried_away(central, hub_side)
    monkeypatch.setattr(sync_agent, "_finder", sync_agent._finder)  # restored afterwards
    hub_settings = load_settings(read_default_file=False, env={}, overrides={
        "role": "hub", "data_dir": str(hub_side.data_dir), "discovery_interfaces": LOOPBACK,
        "language": "en"})
    # what the agent's child process does: the sync task, with zeroconf as its finder
    (task,) = [t for t in plugin_tasks(hub_settings, ("sync",)) if isinstance(t, SyncTask)]
    task.sleep = lambda _s: None
    task.backoff = Backoff(base=1, cap=1)
    results: list[dict[str, Any]] = []

    class Server:  # stands for waitress: the hub's agent runs while "serve" serves
        def run(self) -> None:
            results.append(task.run(Ctx(hub_side, ["web"])))

    monkeypatch.setattr(serve.waitress, "create_server", lambda *a, **k: Server())
    monkeypatch.setattr(serve, "settle_memory", lambda: None)
    monkeypatch.setattr(serve, "tune_malloc", lambda: True)
    serve.run(_central_settings(central))
    (result,) = results
    assert result["ok"] is True, result
    assert _sent(central) == 1  # the work reached the central found on the network
    # once serve stops, nothing announces any more
    assert find_central(0.5, interfaces=[LOOPBACK]) is None


def test_what_is_announced_and_when(central: Central) -> None:
    settings = _central_settings(central)
    ann = announce.central_announcement(settings)
    assert (ann.role, ann.port, ann.path) == ("central", central.server.server_port, "/")
    assert ann.instance.startswith("Ardoise central ")
    with announce.announced(_central_settings(central, discovery_enabled=False)) as off:
        assert off is None
    hub = load_settings(read_default_file=False, env={}, overrides={"role": "hub"})
    with announce.announced(hub) as on_a_hub:
        assert on_a_hub is None  # a hub's web process never announces (its agent does)


def test_a_server_without_the_centrals_key_gets_nothing(central: Central, hub_side: HubSide,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    _carried_away(central, hub_side)
    central_dir = Path(central.app.extensions["ardoise.settings"].data_dir)
    # an impostor at that address: same answers, but not the key the hub learned
    (central_dir / "sync" / "central_key.pem").unlink()
    fleet.central_key(central_dir)
    with pytest.raises(hubside.NotOurCentral, match="could not prove"):
        hubside.check_central(hub_side.engine, hub_side.data_dir, central.url, language="en")
    monkeypatch.setattr(sync_agent, "_finder", lambda: central.url)
    task = SyncTask(load_settings(read_default_file=False, env={}, overrides={
        "data_dir": str(hub_side.data_dir), "language": "en", "sync_interval_minutes": 1}),
        sleep=lambda _s: None, backoff=Backoff(base=5, cap=5))
    result = task.run(Ctx(hub_side, ["web"]))
    assert result["ok"] is False and "unreachable" in result["message"]
    assert _sent(central) == 0  # the hub's work was not sent to it
