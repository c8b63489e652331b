"""The class progress table: students x the resources of the class's assignments."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from ardoise.errors import NotFound
from hub.classwork.progress_report import Cell, class_progress
from hub.models import AssignmentStatus, ProgressEvent, ProgressKind, User
from tests.factories import World, make_assignment


def event(world: World, student: User, uid: str, kind: ProgressKind) -> ProgressEvent:
    return ProgressEvent(school_id=world.school.id, classroom_id=world.classroom.id,
                         user_id=student.id, resource_uid=uid, kind=kind)


def test_table_content(app: Flask, world: World, session: Session,
                       resources: list[str]) -> None:
    fractions, decimales, conte = resources
    make_assignment(app, world, "Maths", resources=(fractions, decimales))
    make_assignment(app, world, "Lecture", resources=(conte, fractions))
    make_assignment(app, world, "Brouillon", status=AssignmentStatus.DRAFT,
                    resources=("maths/secret",))
    make_assignment(app, world, "Autre classe", classroom=world.other_classroom,
                    resources=("autre/chose",))
    s0, s1, s2 = world.students
    session.add_all([
        event(world, s0, fractions, ProgressKind.OPENED),
        event(world, s0, fractions, ProgressKind.FINISHED),
        event(world, s0, fractions, ProgressKind.OPENED),
        event(world, s1, decimales, ProgressKind.OPENED),
        event(world, s1, "autre/chose", ProgressKind.FINISHED),
        event(world, world.other_students[0], fractions, ProgressKind.FINISHED),
    ])
    session.commit()
    table = class_progress(session, world.teacher, world.classroom.id, "en")
    assert [r.uid for r in table.resources] == [fractions, decimales, conte]
    assert [r.title for r in table.resources] == ["Fractions", "Decimal numbers",
                                                  "The wolf's tale"]
    assert [st.id for st in table.students] == [s0.id, s1.id, s2.id]
    grid = [[table.cell(st.id, r.uid) for r in table.resources] for st in table.students]
    assert grid == [[Cell.FINISHED, Cell.NONE, Cell.NONE],
                    [Cell.NONE, Cell.OPENED, Cell.NONE],
                    [Cell.NONE, Cell.NONE, Cell.NONE]]
    assert table.finished_count(fractions) == 1
    assert class_progress(session, world.teacher, world.classroom.id, "fr_CA"
                          ).resources[0].title == "Les fractions"


def test_missing_resource_is_shown_unavailable(app: Flask, world: World,
                                               session: Session) -> None:
    make_assignment(app, world, "Ancien", resources=("retire/vieux",))
    table = class_progress(session, world.teacher, world.classroom.id, "en")
    assert [(r.uid, r.available) for r in table.resources] == [("retire/vieux", False)]


def test_other_teachers_cannot_open_it(world: World, session: Session) -> None:
    with pytest.raises(NotFound):
        class_progress(session, world.other_teacher, world.classroom.id, "en")
    assert class_progress(session, world.admin, world.classroom.id, "en").students
