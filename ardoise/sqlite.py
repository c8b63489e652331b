"""How every connection to an SQLite database is set up, by SQLAlchemy's engine
(`ardoise.db.make_engine`) and by the device agent's plain `sqlite3` connection alike.

WAL, so readers never wait for the writer; foreign keys on; a busy timeout, so two
processes (the web and the agent) writing at once wait instead of failing; and
`synchronous=FULL`: with no UPS on the Pi, a committed hand-in must survive the power cut
that follows it (see docs/decisions.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

BUSY_TIMEOUT_MS = 5000
PRAGMAS: tuple[str, ...] = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA synchronous=FULL",
)


def apply_pragmas(dbapi_conn: Any) -> None:
    """Set up one new DB-API connection (sqlite3) the Ardoise way."""
    cur = dbapi_conn.cursor()
    for pragma in PRAGMAS:
        cur.execute(pragma)
    cur.close()


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLAlchemy SQLite URL (sqlite:///relative, sqlite:////absolute,
    sqlite+pysqlite:///...), or None for another database or an in-memory one."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] != "sqlite" or not rest.startswith("/"):
        return None
    path = unquote(rest[1:].split("?", 1)[0])
    if path in ("", ":memory:"):
        return None
    return Path(path)


__all__ = ["BUSY_TIMEOUT_MS", "PRAGMAS", "apply_pragmas", "sqlite_path"]
