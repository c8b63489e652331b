"""Small builders for test data, written against the models (no HTTP)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub.auth import hash_code, hash_password, is_pin
from hub.db import database
from hub.models import (
    Assignment,
    AssignmentResource,
    AssignmentStatus,
    AssignmentTarget,
    Classroom,
    Enrollment,
    Group,
    GroupMember,
    Role,
    School,
    User,
)


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


def give_code(app: Flask, user: User, code: str = "soleil-chat-lune-arbre") -> str:
    """Give a student a known picture code (or PIN, if `code` is digits); returns it."""
    with database(app).sessions() as s:
        row = s.get(User, user.id)
        assert row is not None
        if is_pin(code):
            row.pin_hash, row.picture_code_hash = hash_code(code), None
        else:
            row.picture_code_hash, row.pin_hash = hash_code(code), None
        s.commit()
    return code


def give_password(app: Flask, user: User, password: str = "correct-horse-battery") -> str:
    """Give a teacher or administrator a known password; returns it."""
    with database(app).sessions() as s:
        row = s.get(User, user.id)
        assert row is not None
        row.password_hash = hash_password(password)
        s.commit()
    return password


def csrf_token_of(html: str) -> str:
    """The CSRF token of the first form of a page (to post forms as a browser does)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)


def make_group(app: Flask, classroom: Classroom, name: str, members: tuple[User, ...] = ()
               ) -> Group:
    """A group of a class with these students in it."""
    with database(app).sessions() as s:
        group = Group(school_id=classroom.school_id, classroom_id=classroom.id, name=name)
        s.add(group)
        s.flush()
        for m in members:
            s.add(GroupMember(school_id=classroom.school_id, classroom_id=classroom.id,
                              group_id=group.id, user_id=m.id))
        s.commit()
    return group


def make_assignment(app: Flask, world: World, title: str = "Devoir", *,
                    classroom: Classroom | None = None,
                    status: AssignmentStatus = AssignmentStatus.PUBLISHED,
                    due_at: dt.datetime | None = None, instructions: str = "",
                    groups: tuple[Group, ...] = (), students: tuple[User, ...] = (),
                    resources: tuple[str, ...] = ()) -> Assignment:
    """An assignment of the world's first class (or `classroom`), published unless told,
    for the whole class unless groups or named students are given."""
    classroom = classroom or world.classroom
    with database(app).sessions() as s:
        a = Assignment(school_id=classroom.school_id, classroom_id=classroom.id,
                       author_id=world.teacher.id, title=title, instructions=instructions,
                       due_at=due_at, status=status,
                       published_at=None if status is AssignmentStatus.DRAFT else (
                           dt.datetime.now(dt.UTC)))
        s.add(a)
        s.flush()
        for g in groups:
            s.add(AssignmentTarget(school_id=a.school_id, classroom_id=a.classroom_id,
                                   assignment_id=a.id, group_id=g.id))
        for u in students:
            s.add(AssignmentTarget(school_id=a.school_id, classroom_id=a.classroom_id,
                                   assignment_id=a.id, user_id=u.id))
        for i, uid in enumerate(resources):
            s.add(AssignmentResource(school_id=a.school_id, classroom_id=a.classroom_id,
                                     assignment_id=a.id, resource_uid=uid, position=i))
        s.commit()
    return a
