"""Two central processes (two app instances) on one PostgreSQL, hubs syncing with both
at once: every row arrives once, counters stay ordered, hubs converge."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker
from werkzeug.serving import make_server

from ardoise.db import make_engine
from hub import create_app
from hub.central import fleet
from hub.db import database, upgrade
from hub.models import ProgressEvent
from hub.sync_registry import install_capture, registry
from sync import hubside
from sync.client import SyncUnavailable
from tests.factories import make_world
from tests.hub.central.test_link import _events

pytestmark = pytest.mark.postgres
PG_URL = os.environ.get("ARDOISE_TEST_POSTGRES_URL", "")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    if not PG_URL:
        pytest.fail("ARDOISE_TEST_POSTGRES_URL is not set: run script/test")
    schema = f"central_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = PG_URL + ("&" if "?" in PG_URL else "?") + f"options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_two_central_processes_and_three_hubs(pg_schema: str, tmp_path: Path,
                                             migrated_db: Path) -> None:
    apps, servers, threads = [], [], []
    for i in range(2):
        d = tmp_path / f"central{i}"
        d.mkdir()
        app = create_app({"TESTING": True, "data_dir": str(d), "role": "central",
                          "database_url": pg_schema})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        apps.append(app)
        servers.append(server)
        threads.append(thread)
    hubs = []
    try:
        world = make_world(apps[0], n_students=3)
        for i in range(3):
            d = tmp_path / f"hub{i}"
            d.mkdir()
            shutil.copy(migrated_db, d / "ardoise.db")
            engine = make_engine(f"sqlite:///{d / 'ardoise.db'}")
            sessions = sessionmaker(engine, expire_on_commit=False)
            cap = install_capture(sessions)
            with database(apps[0]).sessions() as s:
                token = fleet.create_token(s, world.school.id)
                s.commit()
            url = f"http://127.0.0.1:{servers[i % 2].server_port}"
            hubside.enroll(engine, d, url, token)
            hubside.sync_now(engine, registry(), d)
            hubs.append((d, engine, sessions, cap))
        for i, (_d, _e, sessions, _c) in enumerate(hubs):
            _events(sessions, world, 700, f"hub{i}")
        errors: list[BaseException] = []

        def run(i: int) -> None:
            d, engine, _s, _c = hubs[i]
            for j in range(3):  # alternate between the two central processes
                url = f"http://127.0.0.1:{servers[(i + j) % 2].server_port}"
                try:
                    hubside.sync_now(engine, registry(), d, url=url)
                except SyncUnavailable as exc:  # pragma: no cover - loopback
                    errors.append(exc)
                except Exception as exc:
                    errors.append(exc)

        workers = [threading.Thread(target=run, args=(i,)) for i in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        assert errors == []
        for d, engine, _s, _c in hubs:  # a last round each, now that all have pushed
            hubside.sync_now(engine, registry(), d)
        with database(apps[1]).sessions() as s:
            uids = s.scalars(select(ProgressEvent.resource_uid)).all()
        assert len(uids) == len(set(uids)) == 2100
        for _d, engine, _s, _c in hubs:
            with engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(ProgressEvent)).scalar() \
                    == 2100
    finally:
        for server, thread in zip(servers, threads, strict=True):
            server.shutdown()
            thread.join(5)
            server.server_close()
        for _d, engine, _s, cap in hubs:
            cap.remove()
            engine.dispose()
        for app in apps:
            database(app).engine.dispose()
