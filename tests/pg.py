"""A throwaway PostgreSQL database per test session, on the local server.

The server is started if it is not running (as the suite must run on a fresh CI
machine); each run gets its own database, dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SOCKET_URL = "postgresql+psycopg:///postgres?host=/var/run/postgresql"


def ensure_server_running() -> None:
    """Start the local cluster when it is down (Debian's pg_ctlcluster)."""
    if shutil.which("pg_lsclusters") is None:
        raise RuntimeError("PostgreSQL is not installed: run script/test, which installs it")
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True,
                         check=True).stdout.split()
    if "online" not in out:
        version = sorted(os.listdir("/etc/postgresql"), key=float)[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                       check=True)


def admin_url() -> str:
    base = os.environ.get("ARDOISE_TEST_POSTGRES_URL")
    if base:
        return make_url(base).set(database="postgres").render_as_string(hide_password=False)
    return SOCKET_URL


def shared_test_url(name: str = "ardoise_test") -> str:
    """The URL of a test database on the local server (started and created if needed).

    `script/test` exports it as ARDOISE_TEST_POSTGRES_URL; a bare `pytest` run gets the
    same from here, so the PostgreSQL contract tests never depend on how they were started.
    """
    ensure_server_running()
    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": name}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(admin_url()).set(database=name).render_as_string(hide_password=False)


@contextmanager
def scratch_database() -> Iterator[str]:
    """Create a fresh database, yield its URL, drop it afterwards."""
    ensure_server_running()
    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    name = f"ardoise_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


