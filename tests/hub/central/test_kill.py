"""kill -9 of either side at random points during rounds, then finish: the same rows on
both sides, none twice."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from ardoise.db import make_engine
from hub.central import fleet
from hub.models import Classroom, ProgressEvent, Role, School, User
from hub.sync_registry import install_capture, registry
from sync import hubside
from sync.client import SyncRefused, SyncUnavailable
from tests.factories import make_world
from tests.hub.central.conftest import Central, HubSide
from tests.hub.central.test_end_to_end import _token
from tests.hub.central.test_link import _events
from tests.sync.linkemu import LinkEmulator

pytestmark = pytest.mark.slow
ARDOISE = [str(Path(sys.executable).with_name("ardoise"))]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARDOISE_")}
    env.update(ARDOISE_DATA_DIR=str(data_dir), ARDOISE_LANGUAGE="en", **extra)
    return env


def _uids(engine_or_sessions: object) -> list[str]:
    with engine_or_sessions() as s:  # type: ignore[operator]
        return list(s.scalars(select(ProgressEvent.resource_uid)))


def test_hub_killed_during_rounds(central: Central, hub_side: HubSide) -> None:
    world = make_world(central.app, n_students=3)
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, _token(central, world))
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    _events(hub_side.sessions, world, 4000, "hub")
    _events(central.sessions, world, 3000, "central")
    link = LinkEmulator(central.server.server_port, rate_bps=512_000, rtt=0.3)
    rng = random.Random(4)
    try:
        for _ in range(6):
            proc = subprocess.Popen([*ARDOISE, "sync", "now"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL,
                                    env=_env(hub_side.data_dir, ARDOISE_SYNC_CENTRAL_URL=link.url))
            time.sleep(rng.uniform(0.3, 2.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            link.cut()  # the server side of the dead connection goes too
        done = subprocess.run([*ARDOISE, "sync", "now"], env=_env(
            hub_side.data_dir, ARDOISE_SYNC_CENTRAL_URL=link.url), capture_output=True,
            text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    finally:
        link.close()
    hub_uids, central_uids = _uids(hub_side.sessions), _uids(central.sessions)
    assert len(hub_uids) == len(set(hub_uids)) == 7000
    assert sorted(hub_uids) == sorted(central_uids)


def _sync_quietly(hub_side: HubSide, url: str) -> None:
    with contextlib.suppress(SyncUnavailable, SyncRefused):
        hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir, url=url,
                         read_timeout=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_central_killed_during_rounds(tmp_path: Path, migrated_db: Path,
                                      hub_side: HubSide) -> None:
    central_dir = tmp_path / "central-proc"
    central_dir.mkdir()
    shutil.copy(migrated_db, central_dir / "ardoise.db")
    port = _free_port()
    env = _env(central_dir, ARDOISE_ROLE="central", ARDOISE_SECRET_KEY="test-only-key")

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([*ARDOISE, "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return proc
            except OSError:
                time.sleep(0.1)
        proc.kill()
        raise AssertionError("the central did not start")

    central_engine = make_engine(f"sqlite:///{central_dir / 'ardoise.db'}")
    sessions = sessionmaker(central_engine, expire_on_commit=False)
    registry_capture = install_capture(sessions)
    proc = start()
    try:
        with sessions() as s:
            school = School(name="École", code="ecole")
            s.add(school)
            s.flush()
            room = Classroom(school_id=school.id, name="5e")
            kid = User(school_id=school.id, role=Role.STUDENT, username="k", full_name="K")
            s.add_all([room, kid])
            s.flush()
            token = fleet.create_token(s, school.id)
            s.commit()
        hubside.enroll(hub_side.engine, hub_side.data_dir, f"http://127.0.0.1:{port}", token)
        hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
        world = SimpleNamespace(school=school, classroom=room, students=[kid])
        _events(hub_side.sessions, world, 4000, "hub")  # type: ignore[arg-type]
        _events(sessions, world, 3000, "central")  # type: ignore[arg-type]
        link = LinkEmulator(port, rate_bps=512_000, rtt=0.3)
        rng = random.Random(7)
        try:
            for _ in range(5):  # a round runs on a thread; the central dies under it
                worker = threading.Thread(target=_sync_quietly, args=(hub_side, link.url))
                worker.start()
                time.sleep(rng.uniform(0.2, 2.0))
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                link.cut()
                worker.join(60)
                proc = start()
            for _ in range(3):
                try:
                    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir,
                                     url=link.url)
                    break
                except SyncUnavailable:
                    continue
        finally:
            link.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        registry_capture.remove()
        central_engine.dispose()
    hub_uids = _uids(hub_side.sessions)
    central_engine = make_engine(f"sqlite:///{central_dir / 'ardoise.db'}")
    with central_engine.connect() as conn:
        central_uids = list(conn.execute(select(ProgressEvent.resource_uid)).scalars())
        assert conn.execute(select(func.count()).select_from(ProgressEvent)).scalar() == 7000
    central_engine.dispose()
    assert len(hub_uids) == len(set(hub_uids)) == 7000
    assert sorted(hub_uids) == sorted(central_uids)
