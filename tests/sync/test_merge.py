"""Merging between replicas: field by field, update versus delete, audit, purge, keys."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from sqlalchemy import delete, select

from sync import changes, transfer
from sync.scope import Scope
from sync.tables import SyncAudit, SyncConflict
from tests.sync.helpers import Replica, TCard, TLog, TNote, TSchool, push


def _pair(make: Callable[..., Replica]) -> tuple[Replica, Replica, TSchool]:
    a, b = make("a"), make("b", start=1_760_000_000.5)
    with a.session() as s:
        school = TSchool(name="Littoral")
        s.add(school)
    push(a, b)
    return a, b, school


def test_rows_travel_and_nothing_moves_twice(make_replica: Callable[..., Replica]) -> None:
    a, b, school = _pair(make_replica)
    with a.session() as s:
        s.add_all([TLog(school_id=school.id, text=f"l{i}") for i in range(50)])
    out = push(a, b)
    assert out.rows == 50 and out.finished
    assert {r["text"] for r in b.rows("t_log").values()} == {f"l{i}" for i in range(50)}
    again = push(a, b)
    assert again.rows == 0
    back = push(b, a)  # b's rows came from a: nothing to send back
    assert back.rows == 0


def test_concurrent_edits_merge_field_by_field(make_replica: Callable[..., Replica]) -> None:
    a, b, school = _pair(make_replica)
    with a.session() as s:
        note = TNote(school_id=school.id, title="t", body="b", mark=1)
        s.add(note)
    push(a, b)
    with a.session() as s:
        s.get(TNote, note.id).title = "title from a"  # type: ignore[union-attr]
    with b.session() as s:
        s.get(TNote, note.id).body = "body from b"  # type: ignore[union-attr]
    push(a, b)
    push(b, a)
    push(a, b)
    assert a.state() == b.state()
    row = a.rows("t_note")[note.id]
    assert (row["title"], row["body"], row["mark"]) == ("title from a", "body from b", 1)


def test_same_field_later_stamp_wins_and_loser_is_audited(
        make_replica: Callable[..., Replica]) -> None:
    a, b, school = _pair(make_replica)
    with a.session() as s:
        note = TNote(school_id=school.id, title="t")
        s.add(note)
    push(a, b)
    with a.session() as s:
        s.get(TNote, note.id).title = "a"  # type: ignore[union-attr]
    b.clock.t += 60  # b's edit is later
    with b.session() as s:
        s.get(TNote, note.id).title = "b"  # type: ignore[union-attr]
    push(b, a)
    push(a, b)
    assert a.rows("t_note")[note.id]["title"] == b.rows("t_note")[note.id]["title"] == "b"
    with a.engine.connect() as conn:
        audit = conn.execute(select(SyncAudit.__table__)).all()
    assert [(x.field, x.value) for x in audit] == [("title", '"a"')]


def test_delete_wins_over_concurrent_edit(make_replica: Callable[..., Replica]) -> None:
    a, b, school = _pair(make_replica)
    with a.session() as s:
        card = TCard(school_id=school.id, name="c")
        s.add(card)
    push(a, b)
    with a.session() as s:
        s.delete(s.get(TCard, card.id))
    b.clock.t += 3600  # even a later edit does not bring it back
    with b.session() as s:
        s.get(TCard, card.id).colour = "red"  # type: ignore[union-attr]
    push(a, b)
    push(b, a)
    assert a.state() == b.state()
    assert a.rows("t_card")[card.id]["deleted"] is True
    assert a.rows("t_card")[card.id]["colour"] == "red"  # kept in the tombstone


def test_latest_wins_between_edit_and_delete(make_replica: Callable[..., Replica]) -> None:
    a, b, school = _pair(make_replica)
    with a.session() as s:
        n1, n2 = TNote(school_id=school.id, title="1"), TNote(school_id=school.id, title="2")
        s.add_all([n1, n2])
    push(a, b)
    with a.session() as s:
        s.delete(s.get(TNote, n1.id))
    b.clock.t += 3600
    with b.session() as s:
        s.get(TNote, n1.id).title = "edited after the delete"  # type: ignore[union-attr]
        s.delete(s.get(TNote, n2.id))
    a.clock.t += 7200
    with a.session() as s:
        s.get(TNote, n2.id).title = "edited after b's delete"  # type: ignore[union-attr]
    push(a, b)
    push(b, a)
    assert a.state() == b.state()
    assert a.rows("t_note")[n1.id]["deleted"] is False  # b's edit came after a's delete
    assert a.rows("t_note")[n2.id]["deleted"] is False  # a's edit came after b's delete


def test_purge_propagates_and_stale_copies_stay_out(make_replica: Callable[..., Replica]
                                                     ) -> None:
    a, b, school = _pair(make_replica)
    c = make_replica("c")
    with a.session() as s:
        log = TLog(school_id=school.id, text="old")
        s.add(log)
    push(a, b)
    push(a, c)  # c keeps a stale copy
    with a.engine.begin() as conn:
        assert changes.purge(conn, a.registry, "t_log", [log.id], a.clock) == 1
    push(a, b)
    assert log.id not in b.rows("t_log")
    push(c, b)  # the stale copy from c does not come back
    assert log.id not in b.rows("t_log")
    push(b, c)
    assert log.id not in c.rows("t_log")


def test_natural_key_clash_is_parked_not_lost(make_replica: Callable[..., Replica]) -> None:
    a, b, school = _pair(make_replica)
    with a.session() as s:
        s.add(TCard(school_id=school.id, name="same", colour="a"))
    with b.session() as s:
        s.add(TCard(school_id=school.id, name="same", colour="b"))
    push(a, b)
    assert [r["colour"] for r in b.rows("t_card").values()] == ["b"]
    with b.engine.connect() as conn:
        parked = conn.execute(select(SyncConflict.__table__)).all()
    assert len(parked) == 1 and '"a"' in parked[0].payload


def test_scope_limits_what_is_sent(make_replica: Callable[..., Replica]) -> None:
    a, b = make_replica("a"), make_replica("b")
    with a.session() as s:
        s1, s2 = TSchool(name="one"), TSchool(name="two")
        s.add_all([s1, s2])
        s.flush()
        s.add_all([TLog(school_id=s1.id, text="1"), TLog(school_id=s2.id, text="2")])
    push(a, b, Scope(s1.id))
    assert [r["text"] for r in b.rows("t_log").values()] == ["1"]
    assert set(b.rows("t_school")) == {s1.id}


def test_tombstone_delete_statement_on_receiver_is_idempotent(
        make_replica: Callable[..., Replica]) -> None:
    a, b, school = _pair(make_replica)
    with a.session() as s:
        s.add(TCard(school_id=school.id, name="x"))
    push(a, b)
    with b.session() as s:
        s.execute(delete(TCard))
    push(b, a)
    push(b, a)
    assert all(r["deleted"] for r in a.rows("t_card").values())
    assert a.state() == b.state()


def test_frames_are_applied_once(make_replica: Callable[..., Replica]) -> None:
    a, b, school = _pair(make_replica)
    with a.session() as s:
        s.add_all([TLog(school_id=school.id, text=os.urandom(100).hex()) for _ in range(400)])
    out = transfer.prepare(a.engine, a.registry, Scope(), {}, b.instance, a.clock,
                           target=4096)
    assert out.frames > 3
    with a.engine.connect() as conn:
        data = list(transfer.out_frames(conn, out.id, 0))
    first = transfer.apply_frame(b.engine, b.registry, data[0], clock=b.clock)
    again = transfer.apply_frame(b.engine, b.registry, data[0], clock=b.clock)
    assert not first.duplicate and again.duplicate
    for frame in data[1:]:
        transfer.apply_frame(b.engine, b.registry, frame, clock=b.clock)
    for frame in data:
        assert transfer.apply_frame(b.engine, b.registry, frame, clock=b.clock).duplicate
    assert len(b.rows("t_log")) == 400


def test_equal_stamps_tie_break_on_instance_id(make_replica: Callable[..., Replica]) -> None:
    a, b, school = _pair(make_replica)
    with a.session() as s:
        note = TNote(school_id=school.id, title="t")
        s.add(note)
    push(a, b)
    a.clock.t = b.clock.t = a.clock.t + 1000  # both clocks read the same millisecond
    for r in (a, b):
        with r.session() as s:
            s.get(TNote, note.id).title = r.name  # type: ignore[union-attr]
    ha, hb = a.rows("t_note")[note.id]["sync_hlc"], b.rows("t_note")[note.id]["sync_hlc"]
    assert ha == hb
    push(a, b)
    push(b, a)
    winner = max((a, b), key=lambda r: r.instance.bytes)
    assert a.rows("t_note")[note.id]["title"] == b.rows("t_note")[note.id]["title"] == winner.name


def test_many_instances_form_of_the_query(make_replica: Callable[..., Replica],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The form used by a central that heard from hundreds of hubs selects the same rows."""
    monkeypatch.setattr(changes, "MAX_INSTANCE_TERMS", 0)
    a, b, c = make_replica("m1"), make_replica("m2"), make_replica("m3")
    with a.session() as s:
        s1, s2 = TSchool(name="one"), TSchool(name="two")
        s.add_all([s1, s2])
        s.flush()
        s.add_all([TLog(school_id=s1.id, text="1"), TLog(school_id=s2.id, text="2")])
    assert push(a, b, Scope(s1.id)).rows == 2
    assert [r["text"] for r in b.rows("t_log").values()] == ["1"]
    with b.session() as s:
        s.add(TLog(school_id=s1.id, text="from b"))
    assert push(b, c, Scope(s1.id)).rows == 3  # a's rows and b's, through b
    assert push(b, a, Scope(s1.id)).rows == 1  # only what a has not seen
    assert push(b, a, Scope(s1.id)).rows == 0
    push(c, a, Scope(s1.id))  # c never heard from a: it resends, a merges, nothing changes
    assert a.rows("t_log").keys() == c.rows("t_log").keys() | {
        r for r, v in a.rows("t_log").items() if v["text"] == "2"}
    assert push(a, c, Scope(s1.id)).rows == 0
