"""Small builders for test data, written against the models (no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub.db import database
from hub.models import Classroom, Enrollment, Role, School, User


@dataclass
class World:
    """A school with an admin, two teachers each with a class of students."""

    school: School
    admin: User
    teacher: User
    other_teacher: User
    classroom: Classroom
    other_classroom: Classroom
    students: list[User] = field(default_factory=list)
    other_students: list[User] = field(default_factory=list)

    def by_role(self, role: Role) -> User:
        return {Role.ADMIN: self.admin, Role.TEACHER: self.teacher,
                Role.STUDENT: self.students[0]}[role]


def make_user(s: Session, school: School, role: Role, username: str, **kw: object) -> User:
    user = User(school_id=school.id, role=role, username=username,
                full_name=kw.pop("full_name", username.title()), **kw)
    s.add(user)
    s.flush()
    return user


def enroll(s: Session, classroom: Classroom, user: User, role: Role = Role.STUDENT) -> None:
    s.add(Enrollment(school_id=classroom.school_id, classroom_id=classroom.id, user_id=user.id,
                     role=role))


def make_world(app: Flask, n_students: int = 3) -> World:
    with database(app).sessions() as s:
        school = School(name="École du Littoral", code="littoral")
        s.add(school)
        s.flush()
        admin = make_user(s, school, Role.ADMIN, "tech")
        teacher = make_user(s, school, Role.TEACHER, "mme.roy", full_name="Mme Roy")
        other = make_user(s, school, Role.TEACHER, "m.cote", full_name="M. Côté")
        c1 = Classroom(school_id=school.id, name="5e année", grade="5")
        c2 = Classroom(school_id=school.id, name="6e année", grade="6")
        s.add_all([c1, c2])
        s.flush()
        enroll(s, c1, teacher, Role.TEACHER)
        enroll(s, c2, other, Role.TEACHER)
        world = World(school, admin, teacher, other, c1, c2)
        for i in range(n_students):
            st = make_user(s, school, Role.STUDENT, f"eleve{i}", full_name=f"Élève {i}")
            enroll(s, c1, st)
            world.students.append(st)
            ot = make_user(s, school, Role.STUDENT, f"autre{i}", full_name=f"Autre {i}")
            enroll(s, c2, ot)
            world.other_students.append(ot)
        s.commit()
    return world


def sign_in_as(client: FlaskClient, user: User) -> None:
    """Put the user in the session cookie directly (the sign-in forms have their own tests)."""
    with client.session_transaction() as sess:
        sess["uid"] = str(user.id)
        sess["epoch"] = user.auth_epoch
