"""Writing assignments: fields checked by name, targets and resources, the life cycle."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.errors import Conflict, Invalid, NotFound
from hub.classwork.assignments import (
    create_assignment,
    list_for_class,
    resource_uids,
    set_status,
    targets_of,
    update_assignment,
)
from hub.classwork.dates import iso, local_input_value, parse_iso, parse_local
from hub.models import (
    Assignment,
    AssignmentResource,
    AssignmentStatus,
    AssignmentTarget,
    Submission,
)
from tests.factories import World, make_group

DUE = dt.datetime(2026, 3, 14, 19, 0, tzinfo=dt.UTC)


def test_create_draft_with_everything(world: World, session: Session,
                                      resources: list[str], app: Flask) -> None:
    group = make_group(app, world.classroom, "Lecteurs", (world.students[0],))
    a = create_assignment(session, world.teacher, world.classroom.id,
                          title="  Lire   le conte ", instructions="Lis puis réponds.\r\n",
                          due_at=DUE, resource_uids=[resources[2], resources[0], resources[2]],
                          group_ids=[group.id], student_ids=[world.students[2].id])
    session.expire_all()
    got = session.get(Assignment, a.id)
    assert got.title == "Lire le conte"  # spaces tidied
    assert got.instructions == "Lis puis réponds."
    assert got.status is AssignmentStatus.DRAFT and got.published_at is None
    assert got.due_at == DUE and got.author_id == world.teacher.id
    assert got.school_id == world.school.id and got.classroom_id == world.classroom.id
    assert resource_uids(session, a.id) == [resources[2], resources[0]]  # order kept, once
    t = targets_of(session, a.id)
    assert t.group_ids == (group.id,) and t.student_ids == (world.students[2].id,)


def test_create_published(world: World, session: Session) -> None:
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    a = create_assignment(session, world.teacher, world.classroom.id, title="Vite",
                          status="published", now=now)
    assert a.status is AssignmentStatus.PUBLISHED and a.published_at == now


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": None}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": "ok", "instructions": "x" * 20_001}, "instructions"),
    ({"title": "ok", "instructions": 12}, "instructions"),
    ({"title": "ok", "due_at": dt.datetime(2026, 1, 1)}, "due_at"),
    ({"title": "ok", "resource_uids": ["nope/rien"]}, "resources"),
    ({"title": "ok", "group_ids": [uuid.uuid4()]}, "groups"),
    ({"title": "ok", "status": "archived"}, "status"),
])
def test_validation_names_the_field_and_writes_nothing(
        world: World, session: Session, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(Invalid) as info:
        create_assignment(session, world.teacher, world.classroom.id, **kwargs)
    assert info.value.params["field"] == field
    assert info.value.status == 400
    session.rollback()
    assert session.scalars(select(Assignment)).all() == []


def test_targets_must_belong_to_the_class(app: Flask, world: World, session: Session) -> None:
    other_group = make_group(app, world.other_classroom, "Ailleurs")
    with pytest.raises(Invalid) as info:
        create_assignment(session, world.teacher, world.classroom.id, title="x",
                          group_ids=[other_group.id])
    assert info.value.params["field"] == "groups"
    with pytest.raises(Invalid) as info:
        create_assignment(session, world.teacher, world.classroom.id, title="x",
                          student_ids=[world.other_students[0].id])
    assert info.value.params["field"] == "students"
    with pytest.raises(Invalid):  # a teacher is not a student of the class
        create_assignment(session, world.teacher, world.classroom.id, title="x",
                          student_ids=[world.teacher.id])


def test_only_teachers_of_the_class_may_write(world: World, session: Session) -> None:
    for user in (world.other_teacher, world.students[0]):
        with pytest.raises(NotFound):
            create_assignment(session, user, world.classroom.id, title="x")
    a = create_assignment(session, world.admin, world.classroom.id, title="Admin")
    assert a.author_id == world.admin.id


def test_life_cycle(world: World, session: Session) -> None:
    a = create_assignment(session, world.teacher, world.classroom.id, title="Cycle")
    with pytest.raises(Conflict) as info:
        set_status(session, world.teacher, a.id, "closed")
    assert info.value.status == 409 and "publish" in info.value.render("en")
    t1 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    t2 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    t3 = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    assert set_status(session, world.teacher, a.id, "published", now=t1).published_at == t1
    assert set_status(session, world.teacher, a.id, "published", now=t2).published_at == t1
    with pytest.raises(Conflict):
        set_status(session, world.teacher, a.id, "draft")
    closed = set_status(session, world.teacher, a.id, "closed", now=t2)
    assert closed.status is AssignmentStatus.CLOSED and closed.closed_at == t2
    with pytest.raises(Conflict):
        set_status(session, world.teacher, a.id, AssignmentStatus.DRAFT)
    reopened = set_status(session, world.teacher, a.id, "published", now=t3)
    assert reopened.status is AssignmentStatus.PUBLISHED and reopened.closed_at is None
    assert reopened.published_at == t1


def test_update_changes_only_given_fields(world: World, session: Session,
                                          resources: list[str], app: Flask) -> None:
    group = make_group(app, world.classroom, "G", (world.students[0],))
    a = create_assignment(session, world.teacher, world.classroom.id, title="Avant",
                          instructions="Garder", due_at=DUE, resource_uids=resources[:2],
                          group_ids=[group.id])
    update_assignment(session, world.teacher, a.id, title="Après")
    session.expire_all()
    got = session.get(Assignment, a.id)
    assert (got.title, got.instructions, got.due_at) == ("Après", "Garder", DUE)
    assert resource_uids(session, a.id) == resources[:2]
    assert targets_of(session, a.id).group_ids == (group.id,)
    # resources: reorder, drop one, add one; rows are tombstoned, not deleted (they sync)
    update_assignment(session, world.teacher, a.id,
                      resource_uids=[resources[2], resources[1]], due_at=None)
    assert resource_uids(session, a.id) == [resources[2], resources[1]]
    rows = session.scalars(select(AssignmentResource).where(
        AssignmentResource.assignment_id == a.id)).all()
    assert {(r.resource_uid, r.deleted) for r in rows} == {
        (resources[0], True), (resources[1], False), (resources[2], False)}
    assert session.get(Assignment, a.id).due_at is None
    # targets: back to the whole class, then the same group again revives its row
    update_assignment(session, world.teacher, a.id, group_ids=[], student_ids=[])
    assert targets_of(session, a.id).whole_class
    update_assignment(session, world.teacher, a.id, group_ids=[group.id])
    assert len(session.scalars(select(AssignmentTarget).where(
        AssignmentTarget.assignment_id == a.id)).all()) == 1


def test_failed_update_changes_nothing(world: World, session: Session) -> None:
    a = create_assignment(session, world.teacher, world.classroom.id, title="Stable")
    with pytest.raises(Invalid):
        update_assignment(session, world.teacher, a.id, title="Nouveau",
                          resource_uids=["absent/x"])
    with pytest.raises(Conflict):
        update_assignment(session, world.teacher, a.id, title="Nouveau", status="closed")
    session.expire_all()
    assert session.get(Assignment, a.id).title == "Stable"


def test_class_list_counts_hand_ins_of_targeted_students(
        app: Flask, world: World, session: Session) -> None:
    a = create_assignment(session, world.teacher, world.classroom.id, title="A",
                          status="published")
    b = create_assignment(session, world.teacher, world.classroom.id, title="B",
                          student_ids=[world.students[0].id], status="published")
    for st in world.students[:2]:
        for _ in range(2):  # handing in twice counts once
            session.add(Submission(school_id=a.school_id, classroom_id=a.classroom_id,
                                   assignment_id=a.id, student_id=st.id, text="x"))
    session.commit()
    items = list_for_class(session, world.teacher, world.classroom.id)
    assert [(i.assignment.title, i.handed_in, i.targeted) for i in items] == [
        ("B", 0, 1), ("A", 2, 3)]
    assert b.id == items[0].assignment.id
    with pytest.raises(NotFound):
        list_for_class(session, world.other_teacher, world.classroom.id)


def test_dates_in_the_hub_time_zone() -> None:
    # 15:00 in Toronto in March (after the DST switch) is 19:00 UTC
    assert parse_local("2026-03-14T15:00", "America/Toronto") == DUE
    assert local_input_value(DUE, "America/Toronto") == "2026-03-14T15:00"
    # a bare date means the end of that day
    assert parse_local("2026-01-10", "America/Toronto") == dt.datetime(
        2026, 1, 11, 4, 59, tzinfo=dt.UTC)
    assert parse_local("", "America/Toronto") is None
    with pytest.raises(Invalid) as info:
        parse_local("vendredi", "America/Toronto")
    assert info.value.params["field"] == "due_at"
    assert parse_iso("2026-03-14T15:00:00-04:00") == DUE
    assert parse_iso("2026-03-14T19:00:00Z") == DUE
    assert parse_iso(None) is None
    with pytest.raises(Invalid):
        parse_iso("2026-03-14T15:00:00")  # no offset: ambiguous
    with pytest.raises(Invalid):
        parse_iso(12)
    assert iso(DUE) == "2026-03-14T19:00:00Z"
