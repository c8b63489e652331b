"""A central (the real app, role central) served on loopback, and a hub database."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import BaseWSGIServer, make_server

from ardoise.db import make_engine
from hub import create_app
from hub.db import database
from hub.sync_registry import registry
from sync import capture


@dataclass
class Central:
    app: Flask
    server: BaseWSGIServer
    url: str
    sessions: sessionmaker[Session]

    @property
    def engine(self) -> Engine:
        return database(self.app).engine


@dataclass
class HubSide:
    data_dir: Path
    engine: Engine
    sessions: sessionmaker[Session]


@pytest.fixture
def central(tmp_path: Path, migrated_db: Path) -> Iterator[Central]:
    data = tmp_path / "central"
    data.mkdir()
    shutil.copy(migrated_db, data / "ardoise.db")
    app = create_app({"TESTING": True, "data_dir": str(data), "role": "central"})
    sessions = database(app).sessions
    cap = capture.install(sessions, registry())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # a short poll: shutting the server down at the end of each test takes that long
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="central", daemon=False)
    thread.start()
    try:
        yield Central(app, server, f"http://127.0.0.1:{server.server_port}", sessions)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
        cap.remove()
        database(app).engine.dispose()


@pytest.fixture
def hub_side(tmp_path: Path, migrated_db: Path) -> Iterator[HubSide]:
    data = tmp_path / "hub"
    data.mkdir()
    shutil.copy(migrated_db, data / "ardoise.db")
    engine = make_engine(f"sqlite:///{data / 'ardoise.db'}")
    sessions = sessionmaker(engine, expire_on_commit=False)
    cap = capture.install(sessions, registry())
    try:
        yield HubSide(data, engine, sessions)
    finally:
        cap.remove()
        engine.dispose()
