"""Suite-wide fixtures: a real app on a throwaway SQLite database per test, and guards."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from ardoise.db import Base, make_engine
from hub import create_app
from hub.db import database, upgrade
from tests.pg import scratch_database, shared_test_url

# Give the PostgreSQL tests their database even when pytest is run directly (this runs
# before the test packages' own conftest files read the variable).
if not os.environ.get("ARDOISE_TEST_POSTGRES_URL"):
    with contextlib.suppress(Exception):
        os.environ["ARDOISE_TEST_POSTGRES_URL"] = shared_test_url()


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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated scratch PostgreSQL database shared by the session's contract tests."""
    with scratch_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def any_app(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Flask]:
    """The app on each backend: the same test runs against SQLite and PostgreSQL."""
    config: dict[str, Any] = {"TESTING": True, "data_dir": str(data_dir)}
    if request.param == "postgres":
        config["database_url"] = request.getfixturevalue("postgres_url")
    app = create_app(config)
    yield app
    if request.param == "postgres":
        truncate_all(database(app).engine)
    database(app).engine.dispose()


def truncate_all(engine: Any) -> None:
    """Empty every table (PostgreSQL contract tests share one migrated database)."""
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} CASCADE")


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
