"""The agent's sqlite3 store and the ORM functions of `ardoise.device` agree: each reads
what the other wrote, row for row, and both apply the same rules."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ardoise import device
from ardoise.errors import Invalid, SettingsError
from ardoise.sqlite import BUSY_TIMEOUT_MS
from content_packs.catalog import InstalledPack
from hardware.collectors import device_fields
from hardware.identity import SchoolInfo
from hardware.orm_reader import SessionReader
from hardware.store import SqliteStore, from_db_time, to_db_time
from hub.models import School

T0 = dt.datetime(2026, 3, 2, 14, 0, 0, 123456, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _requests(sessions: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with sessions() as s:
        return [(r.id, r.kind, r.source, r.requested_at, r.taken_at, r.done_at, r.ok, r.message)
                for r in s.scalars(select(device.DeviceRequest).order_by(device.DeviceRequest.id))]


def test_requests_made_on_either_side_are_the_same_rows(
        store: SqliteStore, sessions: sessionmaker[Session]) -> None:
    made = store.request_sync_now("button", now=at(0))
    with sessions() as s:
        [pending] = device.pending_requests(s)
        assert (pending.id, pending.kind, pending.source, pending.requested_at) == (
            made.id, "sync_now", "button", at(0))
        again = device.request_sync_now(s, "web", now=at(1))  # still waiting: reused
        assert again.id == made.id
        other = device.request(s, "packs_now", "web", now=at(2))
        s.commit()
    assert store.request_sync_now("cli", now=at(3)).id == made.id
    assert [(r.id, r.kind, r.source, r.requested_at) for r in store.pending_requests()] == [
        (made.id, "sync_now", "button", at(0)), (other.id, "packs_now", "web", at(2))]
    assert [r.id for r in store.pending_requests(["packs_now"])] == [other.id]
    assert store.pending_requests([]) == []


def test_taking_and_finishing_requests_reads_back_through_the_orm(
        store: SqliteStore, sessions: sessionmaker[Session]) -> None:
    first = store.request_sync_now("web", now=at(0))
    store.take_requests([first.id], now=at(5))
    store.finish_requests([first.id], ok=False, message="x" * 3000, now=at(9))
    [(rid, kind, source, requested, taken, done, ok, message)] = _requests(sessions)
    assert (rid, kind, source, requested, taken, done, ok) == (
        first.id, "sync_now", "web", at(0), at(5), at(9), False)
    assert message == "x" * 2000  # the same cut as the ORM's
    assert store.pending_requests() == []
    with sessions() as s:  # and the other way round
        second = device.request_sync_now(s, "web", now=at(10))
        device.take_requests(s, ["sync_now"], now=at(11))
        device.finish_requests(s, [second.id], ok=True, now=at(12))
        s.commit()
    assert _requests(sessions)[-1][4:] == (at(11), at(12), True, "")


@pytest.mark.parametrize("writer", ["store", "orm"])
def test_both_keep_the_same_fifty_finished_requests(
        store: SqliteStore, sessions: sessionmaker[Session], writer: str) -> None:
    ids = []
    for n in range(60):
        req = store.request_sync_now("web", now=at(n))
        store.take_requests([req.id], now=at(n))
        ids.append(req.id)
    waiting = store.request("packs_now", "web", now=at(100))
    if writer == "store":
        store.finish_requests(ids, ok=True, now=at(200))
    else:
        with sessions() as s:
            device.finish_requests(s, ids, ok=True, now=at(200))
            s.commit()
    kept = [row[0] for row in _requests(sessions)]
    assert kept == [*ids[10:], waiting.id]  # the newest 50 finished, and the waiting one


def test_state_documents_read_the_same_on_both_sides(
        store: SqliteStore, sessions: sessionmaker[Session]) -> None:
    store.write_state("agent", {"lights": {"green": "on"}, "when": at(1)}, now=at(2))
    with sessions() as s:
        assert device.read_state(s, "agent") == (
            {"lights": {"green": "on"}, "when": str(at(1))}, at(2))
        device.write_state(s, "agent", {"pid": 7}, now=at(3))
        device.write_state(s, "activity", {"task": "sync"}, now=at(4))
        s.commit()
    assert store.read_state("agent") == ({"pid": 7}, at(3))
    store.write_state("agent", {"pid": 8}, now=at(5))  # replaced whole
    assert store.read_state("agent") == ({"pid": 8}, at(5))
    store.clear_state("activity")
    with sessions() as s:
        assert device.read_state(s, "activity") is None
        assert device.read_state(s, "agent") == ({"pid": 8}, at(5))


def test_a_document_that_is_not_json_reads_as_missing_on_both_sides(
        store: SqliteStore, sessions: sessionmaker[Session]) -> None:
    with store.transaction() as conn:
        conn.execute("INSERT INTO device_state (key, data, updated_at) VALUES (?, ?, ?)",
                     ("agent", "{broken", to_db_time(at(0))))
    assert store.read_state("agent") is None
    with sessions() as s:
        assert device.read_state(s, "agent") is None


def test_task_results_interleave_and_keep_the_last_success(
        store: SqliteStore, sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        device.record_task_result(s, "sync", ok=True, message="sent 3", now=at(0))
        s.commit()
    failed = store.record_task_result("sync", ok=False, message="link down",
                                      details={"retry_in_seconds": 30},
                                      started_at=at(9), now=at(10))
    assert failed.last_ok_at == at(0)
    with sessions() as s:
        assert device.last_sync(s) == failed == store.last_task_result("sync")
        again = device.record_task_result(s, "sync", ok=False, message="still down", now=at(20))
        s.commit()
    assert again.last_ok_at == at(0)
    assert store.last_task_result("sync") == again
    assert store.last_task_result("packs") is None


def test_the_status_reads_the_same_through_both(
        store: SqliteStore, sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        for pack, version, active in (("maths", "1", False), ("maths", "2", True),
                                      ("atlas", "5", True)):
            s.add(InstalledPack(pack_id=pack, version=version, active=active, title_fr=pack,
                                title_en=pack, language="fr", licence="CC-BY-4.0",
                                manifest_json="{}"))
        device.record_task_result(s, "sync", ok=True, now=at(0))
        device.write_state(s, device.AGENT_KEY, {"hardware": "on"}, now=at(1))
        device.write_state(s, device.ACTIVITY_KEY, {"task": "sync"}, now=at(2))
        device.request_sync_now(s, "web", now=at(3))
        s.commit()
        orm = device_fields(SessionReader(s))
    assert device_fields(store) == orm
    assert orm["packs"] == [("atlas", "5"), ("maths", "2")] and orm["sync_requested"] is True
    assert orm["agent_seen_at"] == at(1)


def test_the_school_is_read_once_enrolled(store: SqliteStore,
                                          sessions: sessionmaker[Session]) -> None:
    assert store.school() == SchoolInfo()
    with sessions() as s:
        s.add(School(code="GIM-12", name="École du Littoral"))
        s.commit()
    assert store.school() == SchoolInfo(code="GIM-12", name="École du Littoral")


def test_bad_requests_are_refused_and_nothing_is_written(
        store: SqliteStore, sessions: sessionmaker[Session]) -> None:
    with pytest.raises(Invalid, match="Unknown device request reboot"):
        store.request("reboot", "web")
    with pytest.raises(Invalid, match="Unknown source phone"):
        store.request_sync_now("phone")
    with pytest.raises(RuntimeError), store.transaction():
        store.write_state("agent", {"pid": 1})
        store.request_sync_now("web")
        raise RuntimeError("cut half-way")
    assert _requests(sessions) == []
    assert store.read_state("agent") is None


def test_the_connection_is_set_up_like_the_engine(store: SqliteStore) -> None:
    with store.transaction() as conn:
        settings = [conn.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")]
    assert settings == ["wal", 1, BUSY_TIMEOUT_MS, 2]  # 2: FULL


def test_a_write_waits_for_the_web_instead_of_failing(store: SqliteStore,
                                                      data_dir: Path) -> None:
    other = sqlite3.connect(data_dir / "ardoise.db", isolation_level=None,
                            check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # the web process is writing
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    try:
        store.write_state("agent", {"pid": 1}, now=at(0))
    finally:
        release.join()
        other.close()
    assert store.read_state("agent") == ({"pid": 1}, at(0))


def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "nowhere.db")
    with pytest.raises(sqlite3.OperationalError):
        store.read_state("agent")
    store.close()
    assert not (tmp_path / "nowhere.db").exists()


def test_only_a_sqlite_database_will_do() -> None:
    assert SqliteStore.from_url("sqlite:////var/lib/ardoise/ardoise.db").path == Path(
        "/var/lib/ardoise/ardoise.db")
    with pytest.raises(SettingsError) as caught:
        SqliteStore.from_url("postgresql+psycopg://ardoise:secret@db.example/ardoise")
    message = caught.value.render("en")
    assert "needs the hub's SQLite database, not db.example/ardoise" in message
    assert "secret" not in message


def test_times_are_stored_as_sqlalchemy_stores_them(sessions: sessionmaker[Session],
                                                    data_dir: Path) -> None:
    with sessions() as s:
        device.write_state(s, "agent", {}, now=at(0))
        device.write_state(s, "whole", {}, now=T0.replace(microsecond=0))
        s.commit()
    conn = sqlite3.connect(data_dir / "ardoise.db")
    try:
        stored = dict(conn.execute("SELECT key, updated_at FROM device_state").fetchall())
    finally:
        conn.close()
    assert stored["agent"] == to_db_time(at(0))
    assert stored["whole"] == to_db_time(T0.replace(microsecond=0))
    assert from_db_time(stored["agent"]) == at(0)
    with pytest.raises(ValueError):
        to_db_time(dt.datetime(2026, 1, 1))  # naive: refused, as by the ORM column
