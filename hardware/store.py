"""The device tables through the standard library's `sqlite3`, for the long-running agent.

The agent reads "sync now" requests every few seconds, writes its heartbeat, the running
task and each task's result, and reads the last sync and the installed packs for the
status. Doing that through SQLAlchemy would triple the agent's memory (docs/decisions.md,
"The device agent stays small"), so it uses one plain connection set up like the engine's
(`ardoise.sqlite`: WAL, busy timeout, synchronous=FULL) and the same rules as the ORM
functions of `ardoise.device` (`ardoise.device_protocol`). tests/hardware/test_store.py
checks that both read what the other wrote.

The agent runs on a hub, whose database is SQLite: `SqliteStore.from_url` refuses any
other database with a clear error (the central runs no agent).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ardoise.clock import utcnow
from ardoise.device_protocol import (
    KEEP_FINISHED_REQUESTS,
    MESSAGE_MAX,
    SYNC_NOW,
    TaskResult,
    check_request,
    new_task_result,
    parse_state_text,
    state_text,
    task_result_from_document,
    task_state_key,
)
from ardoise.errors import SettingsError
from ardoise.i18n import N_
from ardoise.sqlite import BUSY_TIMEOUT_MS, apply_pragmas, sqlite_path
from hardware.identity import SchoolInfo

CACHE_KIB = 256  # the agent reads a few small rows: a small page cache keeps it small


@dataclass(frozen=True)
class Request:
    """A row of device_request, as the agent needs it."""

    id: int
    kind: str
    source: str
    requested_at: dt.datetime | None = None


def to_db_time(value: dt.datetime) -> str:
    """A UTC time as SQLAlchemy stores a DateTime in SQLite (naive, microseconds)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(dt.UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def from_db_time(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


class SqliteStore:
    """One connection, shared by the agent's threads under a lock. Writes run in short
    `BEGIN IMMEDIATE` transactions, so they wait for the web's writes (busy timeout)
    instead of failing half-way."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._depth = 0

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        path = sqlite_path(url)
        if path is None:
            raise SettingsError(
                N_("The device agent needs the hub's SQLite database, not %(url)s. The "
                   "agent runs on hubs only; leave database_url empty there."),
                url=url.split("@")[-1])
        return cls(path)

    # -- connection and transactions ----------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # mode=rw: never create an empty database next to the real one
            conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True,
                                   isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
            apply_pragmas(conn)
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._conn = conn
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Group writes (and the reads they depend on) into one transaction; nests."""
        with self._lock:
            conn = self._connection()
            if self._depth == 0:
                conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield conn
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    _rollback(conn)
                raise
            self._depth -= 1
            if self._depth == 0:
                try:
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)  # a failed COMMIT leaves the transaction open
                    raise

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._connection()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- requests ------------------------------------------------------------------------

    def request(self, kind: str, source: str, *, now: dt.datetime | None = None) -> Request:
        """Ask the agent for `kind`; a request of that kind still waiting is reused."""
        check_request(kind, source)
        at = now or utcnow()
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id, kind, source, requested_at FROM device_request "
                "WHERE kind = ? AND taken_at IS NULL ORDER BY id LIMIT 1", (kind,)).fetchone()
            if row is not None:
                return Request(row[0], row[1], row[2], from_db_time(row[3]))
            cur = conn.execute(
                "INSERT INTO device_request (kind, source, requested_at, message) "
                "VALUES (?, ?, ?, '')", (kind, source, to_db_time(at)))
            return Request(int(cur.lastrowid or 0), kind, source, at)

    def request_sync_now(self, source: str = "web", *,
                         now: dt.datetime | None = None) -> Request:
        return self.request(SYNC_NOW, source, now=now)

    def pending_requests(self, kinds: Iterable[str] | None = None) -> list[Request]:
        """Requests not yet taken, oldest first."""
        sql = ("SELECT id, kind, source, requested_at FROM device_request "
               "WHERE taken_at IS NULL")
        params: list[Any] = []
        if kinds is not None:
            wanted = list(kinds)
            sql += f" AND kind IN ({', '.join('?' * len(wanted))})" if wanted else " AND 0"
            params += wanted
        with self._reading() as conn:
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
        return [Request(r[0], r[1], r[2], from_db_time(r[3])) for r in rows]

    def take_requests(self, ids: Iterable[int], *, now: dt.datetime | None = None) -> None:
        """Mark these requests as taken (the agent starts on them)."""
        id_list = list(ids)
        if not id_list:
            return
        with self.transaction() as conn:
            conn.execute(f"UPDATE device_request SET taken_at = ? WHERE id IN "
                         f"({', '.join('?' * len(id_list))})",
                         [to_db_time(now or utcnow()), *id_list])

    def finish_requests(self, ids: Iterable[int], *, ok: bool, message: str = "",
                        now: dt.datetime | None = None) -> None:
        """Record how taken requests ended, and forget the oldest finished ones."""
        id_list = list(ids)
        with self.transaction() as conn:
            if id_list:
                conn.execute(f"UPDATE device_request SET done_at = ?, ok = ?, message = ? "
                             f"WHERE id IN ({', '.join('?' * len(id_list))})",
                             [to_db_time(now or utcnow()), int(ok), message[:MESSAGE_MAX],
                              *id_list])
            conn.execute(
                "DELETE FROM device_request WHERE done_at IS NOT NULL AND id NOT IN "
                "(SELECT id FROM device_request WHERE done_at IS NOT NULL "
                "ORDER BY id DESC LIMIT ?)", (KEEP_FINISHED_REQUESTS,))

    # -- state documents -----------------------------------------------------------------

    def write_state(self, key: str, data: dict[str, Any], *,
                    now: dt.datetime | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO device_state (key, data, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET data = excluded.data, "
                "updated_at = excluded.updated_at",
                (key, state_text(data), to_db_time(now or utcnow())))

    def read_state(self, key: str) -> tuple[dict[str, Any], dt.datetime] | None:
        with self._reading() as conn:
            row = conn.execute("SELECT data, updated_at FROM device_state WHERE key = ?",
                               (key,)).fetchone()
        if row is None:
            return None
        data = parse_state_text(row[0])
        updated = from_db_time(row[1])
        return None if data is None or updated is None else (data, updated)

    def clear_state(self, key: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM device_state WHERE key = ?", (key,))

    def record_task_result(self, task: str, *, ok: bool, message: str = "",
                           details: dict[str, Any] | None = None,
                           started_at: dt.datetime | None = None,
                           now: dt.datetime | None = None) -> TaskResult:
        """The last result of an agent task (see ardoise.device.record_task_result)."""
        at = now or utcnow()
        with self.transaction():
            result, doc = new_task_result(self.last_task_result(task), task, ok=ok,
                                          message=message, details=details,
                                          started_at=started_at, at=at)
            self.write_state(task_state_key(task), doc, now=at)
        return result

    def last_task_result(self, task: str) -> TaskResult | None:
        found = self.read_state(task_state_key(task))
        return None if found is None else task_result_from_document(task, *found)

    # -- what the status shows -----------------------------------------------------------

    def has_pending(self, kind: str) -> bool:
        with self._reading() as conn:
            return conn.execute("SELECT 1 FROM device_request WHERE kind = ? AND "
                                "taken_at IS NULL LIMIT 1", (kind,)).fetchone() is not None

    def active_packs(self) -> list[tuple[str, str]]:
        """(pack id, version) of each installed pack's active version."""
        with self._reading() as conn:
            rows = conn.execute("SELECT pack_id, version FROM installed_pack "
                                "WHERE active = 1 ORDER BY pack_id").fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def school(self) -> SchoolInfo:
        """The hub's school once enrolled; empty before (or before the first migration)."""
        try:
            with self._reading() as conn:
                row = conn.execute("SELECT code, name FROM school WHERE deleted = 0 "
                                   "ORDER BY created_at LIMIT 1").fetchone()
        except sqlite3.Error:
            return SchoolInfo()
        return SchoolInfo(code=row[0], name=row[1]) if row else SchoolInfo()


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


__all__ = ["Request", "SqliteStore", "from_db_time", "to_db_time"]
