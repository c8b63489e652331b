"""Suite-wide fixtures: a real app on a throwaway SQLite database per test, and guards."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from ardoise.db import make_engine
from hub import create_app
from hub.db import database, upgrade


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database migrated with Alembic, copied for each test (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "ardoise.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def data_dir(tmp_path: Path, migrated_db: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(migrated_db, data / "ardoise.db")
    return data


@pytest.fixture
def app_config(data_dir: Path) -> dict[str, Any]:
    """Override in a test module to change settings or Flask keys."""
    return {"TESTING": True, "data_dir": str(data_dir)}


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    yield app
    database(app).engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Fail a test that leaves threads running (servers, watchers) behind it."""
    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate()
                if t not in before and t.is_alive() and not t.daemon]
    for t in leftover:
        t.join(timeout=2)
    still = [t.name for t in leftover if t.is_alive()]
    assert not still, f"threads left running: {still}"
