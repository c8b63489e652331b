"""Change capture: ORM flushes, bulk and Core statements all get stamps, in the same
transaction, and deletions become tombstones."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import delete, insert, select, update

from sync import stamps
from sync.merge import field_stamps
from tests.sync.helpers import Replica, TCard, TLog, TNote, TSchool


def _school(r: Replica) -> TSchool:
    with r.session() as s:
        school = TSchool(name="Littoral")
        s.add(school)
    return school


def test_insert_gets_instance_counter_and_hlc(make_replica: Callable[..., Replica]) -> None:
    r = make_replica("a")
    school = _school(r)
    with r.session() as s:
        s.add_all([TNote(school_id=school.id, title="one"), TNote(school_id=school.id)])
    rows = r.rows("t_note")
    assert len(rows) == 2
    for row in rows.values():
        assert row["sync_instance"] == r.instance
        assert row["sync_counter"] > r.rows("t_school")[school.id]["sync_counter"]
        assert row["sync_hlc"] > 0
        assert row["sync_fields"] is None


def test_orm_update_stamps_only_changed_fields(make_replica: Callable[..., Replica]) -> None:
    r = make_replica("a")
    school = _school(r)
    with r.session() as s:
        note = TNote(school_id=school.id, title="t", body="b")
        s.add(note)
    before = r.rows("t_note")[note.id]
    with r.session() as s:
        s.get(TNote, note.id).body = "changed"  # type: ignore[union-attr]
    after = r.rows("t_note")[note.id]
    assert after["sync_counter"] > before["sync_counter"]
    assert after["sync_hlc"] > before["sync_hlc"]
    fs = field_stamps(r.registry.rules["t_note"], after)
    assert fs["body"] == (after["sync_hlc"], r.instance)
    assert fs["title"] == (before["sync_hlc"], r.instance)
    # latest-wins table: an edit re-asserts that the row is alive
    assert fs["deleted"] == (after["sync_hlc"], r.instance)


def test_bulk_orm_and_core_update_are_captured(make_replica: Callable[..., Replica]) -> None:
    r = make_replica("a")
    school = _school(r)
    with r.session() as s:
        s.add_all([TCard(school_id=school.id, name=f"c{i}") for i in range(3)])
    with r.session() as s:
        s.execute(update(TCard).where(TCard.name != "c0").values(colour="red"))
    rows = {row["name"]: row for row in r.rows("t_card").values()}
    assert rows["c1"]["sync_counter"] == rows["c2"]["sync_counter"] > rows["c0"]["sync_counter"]
    fs = field_stamps(r.registry.rules["t_card"], rows["c1"])
    assert fs["colour"] == (rows["c1"]["sync_hlc"], r.instance)
    assert fs["name"] != fs["colour"]
    with r.engine.begin() as conn:  # plain Core, outside any session
        conn.execute(update(TCard.__table__).where(TCard.__table__.c.name == "c0")
                     .values(colour="blue"))
    c0 = next(row for row in r.rows("t_card").values() if row["name"] == "c0")
    assert c0["colour"] == "blue"
    assert c0["sync_counter"] > rows["c1"]["sync_counter"]


def test_delete_becomes_tombstone_and_is_hidden(make_replica: Callable[..., Replica]) -> None:
    r = make_replica("a")
    school = _school(r)
    with r.session() as s:
        a, b, c = (TCard(school_id=school.id, name=n) for n in "abc")
        s.add_all([a, b, c])
    with r.session() as s:
        s.delete(s.get(TCard, a.id))
    with r.session() as s:
        s.execute(delete(TCard).where(TCard.name == "b"))
    rows = r.rows("t_card")
    assert len(rows) == 3
    assert rows[a.id]["deleted"] and rows[b.id]["deleted"] and not rows[c.id]["deleted"]
    with r.session() as s:
        assert [x.name for x in s.scalars(select(TCard))] == ["c"]
        assert s.get(TCard, a.id) is None
        shown = s.scalars(select(TCard).execution_options(include_deleted=True)).all()
        assert len(shown) == 3


def test_core_insert_and_bulk_insert_are_stamped(make_replica: Callable[..., Replica]) -> None:
    r = make_replica("a")
    school = _school(r)
    with r.session() as s:
        s.execute(insert(TLog), [{"school_id": school.id, "text": "x"},
                                 {"school_id": school.id, "text": "y"}])
    with r.engine.begin() as conn:
        conn.execute(insert(TLog.__table__).values(school_id=school.id, text="z"))
    rows = r.rows("t_log").values()
    assert len(rows) == 3
    assert all(row["sync_instance"] == r.instance and row["sync_counter"] > 0 for row in rows)


def test_capture_rolls_back_with_the_transaction(make_replica: Callable[..., Replica]) -> None:
    r = make_replica("a")
    school = _school(r)
    with r.engine.connect() as conn:
        from sync import instance
        counter = instance.current(conn).counter
    with pytest.raises(RuntimeError), r.session() as s:
        s.add(TNote(school_id=school.id))
        s.flush()
        raise RuntimeError("abandon")
    with r.engine.connect() as conn:
        assert instance.current(conn).counter == counter
    assert r.rows("t_note") == {}


def test_new_row_takes_natural_key_of_tombstone(make_replica: Callable[..., Replica]) -> None:
    r = make_replica("a")
    school = _school(r)
    with r.session() as s:
        s.add(TCard(school_id=school.id, name="same"))
    with r.session() as s:
        s.execute(delete(TCard).where(TCard.name == "same"))
    with r.session() as s:
        s.add(TCard(school_id=school.id, name="same"))
    rows = list(r.rows("t_card").values())
    assert len(rows) == 1 and not rows[0]["deleted"]


def test_restamp_roundtrip() -> None:
    import uuid
    a, b = uuid.uuid4(), uuid.uuid4()
    text = stamps.restamp(None, (5, a), ["x", "y", "z"], {"y"}, (9, b))
    assert stamps.decode(text, (9, b), ["x", "y", "z"]) == {"x": (5, a), "y": (9, b),
                                                             "z": (5, a)}
    assert stamps.well_formed(text)
    assert not stamps.well_formed('[[1, "zz", ["x"]]]')
