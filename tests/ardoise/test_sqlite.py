"""Which database URLs are SQLite files (the agent's plain sqlite3 connection needs one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ardoise.sqlite import sqlite_path


@pytest.mark.parametrize(("url", "path"), [
    ("sqlite:////var/lib/ardoise/ardoise.db", Path("/var/lib/ardoise/ardoise.db")),
    ("sqlite:///data/ardoise.db", Path("data/ardoise.db")),
    ("sqlite+pysqlite:////tmp/a%20b.db?timeout=5", Path("/tmp/a b.db")),
    ("sqlite://", None),
    ("sqlite:///:memory:", None),
    ("postgresql+psycopg://ardoise@db/ardoise", None),
    ("sqlitex:////tmp/a.db", None),
    ("", None),
])
def test_sqlite_path(url: str, path: Path | None) -> None:
    assert sqlite_path(url) == path
