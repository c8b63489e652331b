"""Who sees which assignment: the whole class, a group, named students; drafts hidden,
closed ones flagged; and the student's To do / Done list built from the same rule."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from ardoise.errors import NotFound
from hub.classwork.assignments import targeted_ids
from hub.classwork.visibility import (
    assignment_for_staff,
    assignment_for_student,
    class_for_staff,
    targeted_students,
    teacher_classes,
)
from hub.classwork.worklist import WorkItem, WorkStatus, worklist
from hub.db import database
from hub.models import (
    AssignmentStatus,
    AssignmentTarget,
    Classroom,
    Enrollment,
    GroupMember,
    Role,
    School,
    Submission,
    User,
)
from tests.factories import World, make_assignment, make_group, make_user, make_world

NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


def _titles(items: list[WorkItem]) -> list[str]:
    return [i.title for i in items]


def test_whole_class_assignment_reaches_every_student_of_the_class(
        app: Flask, world: World, session: Session) -> None:
    a = make_assignment(app, world, "Pour tous")
    for st in world.students:
        assert _titles(worklist(session, st.id, NOW).todo) == ["Pour tous"]
        assert assignment_for_student(session, st, a.id).id == a.id
    for other in world.other_students:
        assert worklist(session, other.id, NOW).todo == []
        with pytest.raises(NotFound):
            assignment_for_student(session, other, a.id)


def test_group_assignment_reaches_only_members(app: Flask, world: World,
                                               session: Session) -> None:
    s0, s1, s2 = world.students
    group = make_group(app, world.classroom, "Lecteurs", (s0, s1))
    a = make_assignment(app, world, "Lecture", groups=(group,))
    assert _titles(worklist(session, s0.id, NOW).todo) == ["Lecture"]
    assert _titles(worklist(session, s1.id, NOW).todo) == ["Lecture"]
    assert worklist(session, s2.id, NOW).todo == []
    with pytest.raises(NotFound):
        assignment_for_student(session, s2, a.id)
    a_row = session.get(type(a), a.id)
    assert [u.id for u in targeted_students(session, a_row)] == sorted(
        [s0.id, s1.id], key=lambda i: {s0.id: 0, s1.id: 1}[i])


def test_named_student_and_group_combine(app: Flask, world: World, session: Session) -> None:
    s0, s1, s2 = world.students
    group = make_group(app, world.classroom, "Équipe", (s0,))
    make_assignment(app, world, "Mixte", groups=(group,), students=(s2,))
    assert [len(worklist(session, st.id, NOW).todo) for st in (s0, s1, s2)] == [1, 0, 1]


def test_leaving_the_group_or_the_class_hides_the_assignment(
        app: Flask, world: World, session: Session) -> None:
    s0 = world.students[0]
    group = make_group(app, world.classroom, "Équipe", (s0,))
    make_assignment(app, world, "Équipe seulement", groups=(group,))
    make_assignment(app, world, "Pour tous")
    assert len(worklist(session, s0.id, NOW).todo) == 2
    member = session.query(GroupMember).filter_by(user_id=s0.id).one()
    member.deleted = True
    session.commit()
    assert _titles(worklist(session, s0.id, NOW).todo) == ["Pour tous"]
    enrolment = session.query(Enrollment).filter_by(user_id=s0.id).one()
    enrolment.deleted = True
    session.commit()
    assert worklist(session, s0.id, NOW).todo == []


def test_a_removed_target_counts_as_no_target(app: Flask, world: World,
                                              session: Session) -> None:
    s0, s1, _ = world.students
    a = make_assignment(app, world, "Ciblé", students=(s0,))
    assert worklist(session, s1.id, NOW).todo == []
    target = session.query(AssignmentTarget).filter_by(assignment_id=a.id).one()
    target.deleted = True
    session.commit()
    assert _titles(worklist(session, s1.id, NOW).todo) == ["Ciblé"]


def test_drafts_are_invisible_and_closed_ones_are_done_and_flagged(
        app: Flask, world: World, session: Session) -> None:
    s0 = world.students[0]
    draft = make_assignment(app, world, "Brouillon", status=AssignmentStatus.DRAFT)
    closed = make_assignment(app, world, "Fermé", status=AssignmentStatus.CLOSED)
    wl = worklist(session, s0.id, NOW)
    assert wl.todo == []
    assert _titles(wl.done) == ["Fermé"]
    assert wl.done[0].closed and wl.done[0].status is WorkStatus.MISSED
    with pytest.raises(NotFound):
        assignment_for_student(session, s0, draft.id)
    assert assignment_for_student(session, s0, closed.id).id == closed.id


def test_statuses_and_order(app: Flask, world: World, session: Session) -> None:
    s0 = world.students[0]
    later = make_assignment(app, world, "Plus tard", due_at=NOW + dt.timedelta(days=3))
    soon = make_assignment(app, world, "Bientôt", due_at=NOW + dt.timedelta(days=1))
    make_assignment(app, world, "Sans date")
    overdue = make_assignment(app, world, "En retard", due_at=NOW - dt.timedelta(days=1))
    on_time = make_assignment(app, world, "Remis", due_at=NOW + dt.timedelta(days=2))
    late = make_assignment(app, world, "Remis en retard", due_at=NOW - dt.timedelta(days=2))
    for a, at in ((on_time, NOW), (late, NOW)):
        session.add(Submission(school_id=a.school_id, classroom_id=a.classroom_id,
                               assignment_id=a.id, student_id=s0.id, text="x", created_at=at))
    session.commit()
    wl = worklist(session, s0.id, NOW)
    assert _titles(wl.todo) == ["En retard", "Bientôt", "Plus tard", "Sans date"]
    assert wl.todo[0].status is WorkStatus.OVERDUE and wl.todo[1].status is WorkStatus.TODO
    done = {i.title: i for i in wl.done}
    assert done["Remis"].status is WorkStatus.HANDED_IN
    assert done["Remis"].handed_in_at == NOW
    assert done["Remis en retard"].status is WorkStatus.LATE
    assert {soon.id, later.id, overdue.id} <= {i.id for i in wl.todo}


def test_another_students_hand_in_does_not_count(app: Flask, world: World,
                                                 session: Session) -> None:
    s0, s1, _ = world.students
    a = make_assignment(app, world, "Devoir")
    session.add(Submission(school_id=a.school_id, classroom_id=a.classroom_id,
                           assignment_id=a.id, student_id=s1.id, text="moi"))
    session.commit()
    assert _titles(worklist(session, s0.id, NOW).todo) == ["Devoir"]
    assert _titles(worklist(session, s1.id, NOW).done) == ["Devoir"]


def test_teachers_see_their_classes_admins_their_school(app: Flask, world: World,
                                                       session: Session) -> None:
    assert [c.id for c in teacher_classes(session, world.teacher)] == [world.classroom.id]
    assert [c.id for c in teacher_classes(session, world.other_teacher)] == [
        world.other_classroom.id]
    assert {c.id for c in teacher_classes(session, world.admin)} == {
        world.classroom.id, world.other_classroom.id}
    assert teacher_classes(session, world.students[0]) == []
    with pytest.raises(NotFound):
        class_for_staff(session, world.other_teacher, world.classroom.id)
    a = make_assignment(app, world, "Devoir")
    with pytest.raises(NotFound):
        assignment_for_staff(session, world.other_teacher, a.id)
    assert assignment_for_staff(session, world.admin, a.id).id == a.id
    with pytest.raises(NotFound):
        class_for_staff(session, world.teacher, uuid.uuid4())


def test_admin_of_another_school_sees_nothing(app: Flask, world: World,
                                              session: Session) -> None:
    elsewhere = make_world_in_other_school(app)
    assert all(c.school_id != world.school.id for c in teacher_classes(session, elsewhere))
    with pytest.raises(NotFound):
        class_for_staff(session, elsewhere, world.classroom.id)


def make_world_in_other_school(app: Flask) -> User:
    with database(app).sessions() as s:
        school = School(name="École du Large", code="large")
        s.add(school)
        s.flush()
        s.add(Classroom(school_id=school.id, name="Multi"))
        admin = make_user(s, school, Role.ADMIN, "tech2")
        s.commit()
    return admin


def test_worklist_is_the_same_on_sqlite_and_postgres(any_app: Flask) -> None:
    """The benchmarked query is portable: same answers on both backends."""
    w = make_world(any_app, n_students=2)
    s0, s1 = w.students
    group = make_group(any_app, w.classroom, "G", (s0,))
    make_assignment(any_app, w, "Groupe", groups=(group,), due_at=NOW + dt.timedelta(days=1))
    done = make_assignment(any_app, w, "Fait", due_at=NOW - dt.timedelta(days=1))
    make_assignment(any_app, w, "Brouillon", status=AssignmentStatus.DRAFT)
    with database(any_app).sessions() as s:
        s.add(Submission(school_id=done.school_id, classroom_id=done.classroom_id,
                         assignment_id=done.id, student_id=s0.id, text="x", created_at=NOW))
        s.commit()
        wl0, wl1 = worklist(s, s0.id, NOW), worklist(s, s1.id, NOW)
    assert _titles(wl0.todo) == ["Groupe"]
    assert [(i.title, i.status, i.handed_in_at) for i in wl0.done] == [
        ("Fait", WorkStatus.LATE, NOW)]
    assert wl1.todo[0].title == "Fait" and wl1.todo[0].status is WorkStatus.OVERDUE
    assert wl1.done == []


def test_batch_and_single_targeting_agree(app: Flask, world: World, session: Session) -> None:
    """The class list counts targets in Python for many assignments at once; it must agree
    with the SQL rule students are filtered by."""
    s0, s1, s2 = world.students
    group = make_group(app, world.classroom, "G", (s0, s1))
    left = make_group(app, world.classroom, "Vide", (s2,))
    member = session.query(GroupMember).filter_by(group_id=left.id).one()
    member.deleted = True
    session.commit()
    cases = [make_assignment(app, world, "Tous"),
             make_assignment(app, world, "Groupe", groups=(group,)),
             make_assignment(app, world, "Mixte", groups=(left,), students=(s2,)),
             make_assignment(app, world, "Vide", groups=(left,))]
    batch = targeted_ids(session, world.classroom.id, [a.id for a in cases])
    for a in cases:
        row = session.get(type(a), a.id)
        assert batch[a.id] == {u.id for u in targeted_students(session, row)}, a.title
        for st in world.students:
            sees = any(i.id == a.id for i in worklist(session, st.id, NOW).todo)
            assert sees == (st.id in batch[a.id]), (a.title, st.username)
    assert [len(batch[a.id]) for a in cases] == [3, 2, 1, 0]
