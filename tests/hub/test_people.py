"""The people library: schools, classes, accounts with generated secrets, enrolments."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from ardoise.errors import Conflict, Invalid, NotFound
from hub import people
from hub.auth import verify_code, verify_password
from hub.db import database
from hub.models import Role, School, User
from hub.people.names import display_names, short_name, username_base
from tests.factories import make_world


@pytest.fixture
def s(app: Flask) -> Iterator[Session]:
    with database(app).sessions() as session:
        yield session


@pytest.fixture
def school(s: Session) -> School:
    school = people.create_school(s, "École des Îles", "iles")
    s.commit()
    return school


def test_create_school_validates_and_refuses_duplicates(s: Session, school: School) -> None:
    assert people.get_school(s, "ILES").id == school.id
    with pytest.raises(Conflict):
        people.create_school(s, "Autre", "iles")
    with pytest.raises(Invalid, match="not valid"):
        people.create_school(s, "Autre", "Îles madelinot")
    with pytest.raises(Invalid, match="missing"):
        people.create_school(s, "  ", "autre")
    with pytest.raises(NotFound, match="school list"):
        people.get_school(s, "nowhere")


def test_class_names_are_unique_per_school(s: Session, school: School) -> None:
    c = people.create_classroom(s, school, " 3e   année ", grade="3")
    assert c.name == "3e année"
    assert people.find_classroom(s, school, "3E ANNÉE").id == c.id
    with pytest.raises(Conflict):
        people.create_classroom(s, school, "3e Année")
    other = people.create_school(s, "Autre", "autre")
    assert people.create_classroom(s, other, "3e année").school_id == other.id
    with pytest.raises(NotFound):
        people.find_classroom(s, school, "4e année")


@pytest.mark.parametrize(("name", "expected"), [
    ("Élodie Côté", "elodie.cote"),
    ("  Marie-Ève   O'Neil ", "marie-eve.oneil"),
    ("Œdipe Lætitia", "oedipe.laetitia"),
    ("ᐊᓕᐊ", "user"),
])
def test_username_from_name(name: str, expected: str) -> None:
    assert username_base(name) == expected


def test_create_student_gets_a_picture_code(s: Session, school: School) -> None:
    c = people.create_classroom(s, school, "5e")
    issued = people.create_user(s, school, "student", "Élodie Côté", classroom=c)
    user, secret = issued  # unpacks as (user, secret)
    assert user.username == "elodie.cote" and user.role == Role.STUDENT
    assert issued.kind == "picture" and len(issued.pictures) == 4
    assert user.password_hash is None and user.pin_hash is None
    assert verify_code(user.picture_code_hash, secret)[0]
    assert secret not in (user.picture_code_hash or "")
    assert [u.id for u in people.students_of(s, c)] == [user.id]
    again = people.create_user(s, school, Role.STUDENT, "Elodie Cote")
    assert again.user.username == "elodie.cote2"


def test_create_student_with_pin(s: Session, school: School) -> None:
    issued = people.create_user(s, school, "student", "Noah Roy", pin="2468")
    assert issued.kind == "pin" and issued.secret == "2468"
    assert issued.user.picture_code_hash is None
    assert verify_code(issued.user.pin_hash, "2468")[0]
    with pytest.raises(Invalid, match="digits"):
        people.create_user(s, school, "student", "Noah Roy", pin="24")


def test_create_staff_gets_a_generated_password(s: Session, school: School) -> None:
    issued = people.create_user(s, school, "teacher", "Mme Roy", username="Mme.Roy")
    assert issued.user.username == "mme.roy" and issued.kind == "password"
    assert verify_password(issued.user.password_hash, issued.secret)[0]
    with pytest.raises(Conflict, match="already used"):
        people.create_user(s, school, "admin", "Quelqu'un", username="mme.roy")
    with pytest.raises(Invalid, match="not valid"):
        people.create_user(s, school, "admin", "Quelqu'un", username="mme roy!")
    with pytest.raises(Invalid, match="Unknown role"):
        people.create_user(s, school, "principal", "Quelqu'un")
    with pytest.raises(Invalid, match="PIN"):
        people.create_user(s, school, "teacher", "Quelqu'un", pin="1234")
    with pytest.raises(Invalid, match="missing"):
        people.create_user(s, school, "teacher", "   ")


def test_reset_bumps_epoch_and_replaces_secret(s: Session, school: School) -> None:
    teacher, old_password = people.create_user(s, school, "teacher", "Mme Roy")
    student, old_code = people.create_user(s, school, "student", "Léa Roy")
    pinned, old_pin = people.create_user(s, school, "student", "Noé Roy", pin="1111")
    new = people.reset_secret(s, teacher)
    assert teacher.auth_epoch == 1 and new.kind == "password"
    assert not verify_password(teacher.password_hash, old_password)[0]
    assert verify_password(teacher.password_hash, new.secret)[0]
    code = people.reset_secret(s, student)
    assert student.auth_epoch == 1 and code.kind == "picture"
    assert verify_code(student.picture_code_hash, code.secret)[0]
    assert code.secret == old_code or not verify_code(student.picture_code_hash, old_code)[0]
    pin = people.reset_code(s, pinned)
    assert pin.kind == "pin" and pinned.picture_code_hash is None
    assert verify_code(pinned.pin_hash, pin.secret)[0]
    assert pin.secret == old_pin or not verify_code(pinned.pin_hash, old_pin)[0]
    with pytest.raises(Invalid):
        people.reset_password(s, student)
    with pytest.raises(Invalid):
        people.reset_code(s, teacher)


def test_set_password_checks_the_rules(s: Session, school: School) -> None:
    teacher, _secret = people.create_user(s, school, "teacher", "Mme Roy")
    with pytest.raises(Invalid, match="at least 10"):
        people.set_password(s, teacher, "court")
    people.set_password(s, teacher, "un mot de passe long")
    assert verify_password(teacher.password_hash, "un mot de passe long")[0]
    assert teacher.auth_epoch == 1


def test_deactivate(s: Session, school: School) -> None:
    admin, _ = people.create_user(s, school, "admin", "Tech")
    student, _ = people.create_user(s, school, "student", "Léa Roy")
    people.deactivate(s, student, by=admin)
    assert not student.active and student.auth_epoch == 1
    with pytest.raises(Invalid, match="your own"):
        people.deactivate(s, admin, by=admin)
    assert admin.active
    people.reactivate(s, student)
    assert student.active


def test_enroll_is_idempotent_and_stays_in_school(s: Session, school: School) -> None:
    c = people.create_classroom(s, school, "5e")
    teacher, _ = people.create_user(s, school, "teacher", "Mme Roy")
    student, _ = people.create_user(s, school, "student", "Léa Roy")
    people.enroll(s, c, teacher)
    people.enroll(s, c, teacher)
    people.enroll(s, c, student)
    assert people.teachers_of(s, c) == [teacher]
    assert people.students_of(s, c) == [student]
    assert people.teachers_classes(s, teacher) == [c]
    assert people.teachers_classes(s, student) == []
    with pytest.raises(Invalid):
        people.enroll(s, c, student, Role.TEACHER)
    other_school = people.create_school(s, "Autre", "autre")
    stranger, _ = people.create_user(s, other_school, "student", "Zoé")
    with pytest.raises(Invalid, match="another school"):
        people.enroll(s, c, stranger)
    people.unenroll(s, c, student)
    assert people.students_of(s, c) == []
    people.enroll(s, c, student)  # back again: the tombstone is revived
    assert people.students_of(s, c) == [student]


def test_managed_classroom(app: Flask, s: Session) -> None:
    w = make_world(app)
    teacher = s.get(User, w.teacher.id)
    admin = s.get(User, w.admin.id)
    student = s.get(User, w.students[0].id)
    assert teacher and admin and student
    assert people.managed_classroom(s, teacher, w.classroom.id).id == w.classroom.id
    assert people.managed_classroom(s, admin, w.other_classroom.id).id == w.other_classroom.id
    with pytest.raises(NotFound):
        people.managed_classroom(s, teacher, w.other_classroom.id)
    with pytest.raises(NotFound):
        people.managed_classroom(s, student, w.classroom.id)
    assert {c.id for c in people.teachers_classes(s, admin)} == {w.classroom.id,
                                                                 w.other_classroom.id}
    elsewhere = people.create_school(s, "Ailleurs", "ailleurs")
    outside = people.create_classroom(s, elsewhere, "1re")
    with pytest.raises(NotFound):
        people.managed_classroom(s, admin, outside.id)


def test_reset_class_codes(app: Flask, s: Session) -> None:
    w = make_world(app, n_students=3)
    classroom = people.get_classroom(s, w.classroom.id)
    issued = people.reset_class_codes(s, classroom)
    assert sorted(i.user.id for i in issued) == sorted(u.id for u in w.students)
    one = people.reset_class_codes(s, classroom, [w.students[1].id])
    assert [i.user.id for i in one] == [w.students[1].id]
    with pytest.raises(NotFound):
        people.reset_class_codes(s, classroom, [w.other_students[0].id])


def test_display_names() -> None:
    assert short_name("Élodie Côté") == "Élodie C."
    assert short_name("Madonna") == "Madonna"
    names = display_names([(1, "Léa Roy", "lea.roy"), (2, "Léa Rioux", "lea.rioux"),
                           (3, "Noé Côté", "noe.cote"), (4, "Noé Côté", "noe.cote2"),
                           (5, "Zoé Gagnon", "zoe.gagnon")])
    assert names == {1: "Léa Roy", 2: "Léa Rioux", 3: "Noé Côté (noe.cote)",
                     4: "Noé Côté (noe.cote2)", 5: "Zoé G."}


def test_list_users_filters(app: Flask, s: Session) -> None:
    w = make_world(app, n_students=2)
    school = people.get_school(s, "littoral")
    students = people.list_users(s, school, role="student")
    assert len(students) == 4
    in_class = people.list_users(s, school, classroom=people.get_classroom(s, w.classroom.id))
    assert {u.id for u in in_class} == {w.teacher.id, *(u.id for u in w.students)}
