"""Schools, classes and who is enrolled in them; and which classes a user may manage."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ardoise.errors import Conflict, Invalid, NotFound
from ardoise.i18n import N_
from hub.models import Classroom, Enrollment, Role, School, User
from hub.people.names import display_names, sort_key

SCHOOL_CODE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def _clean(value: str, missing: str, maximum: int) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise Invalid(missing)
    if len(text) > maximum:
        raise Invalid(N_("This name is too long (at most %(maximum)s characters): %(name)s"),
                      maximum=maximum, name=text[:40] + "…")
    return text


def create_school(s: Session, name: str, code: str) -> School:
    """A school, known by a short code ('littoral') used on the command line and in files."""
    name = _clean(name, N_("The name of the school is missing."), 200)
    code = (code or "").strip().lower()
    if not SCHOOL_CODE_RE.fullmatch(code):
        raise Invalid(N_("The school code %(code)s is not valid: use lower-case letters, "
                         "digits and dashes (up to 40)."), code=code)
    if s.scalar(select(School.id).where(School.code == code)) is not None:
        raise Conflict(N_("A school with the code %(code)s already exists."), code=code)
    school = School(name=name, code=code)
    s.add(school)
    s.flush()
    return school


def get_school(s: Session, code: str) -> School:
    school = s.scalar(select(School).where(School.code == (code or "").strip().lower(),
                                           School.deleted.is_(False)))
    if school is None:
        raise NotFound(N_("There is no school with the code %(code)s. See 'ardoise school "
                          "list'."), code=code)
    return school


def list_schools(s: Session) -> list[School]:
    return list(s.scalars(select(School).where(School.deleted.is_(False))
                          .order_by(School.name)))


def create_classroom(s: Session, school: School, name: str, grade: str | None = None
                     ) -> Classroom:
    """A class of a school; names are unique within the school so people can find it."""
    name = _clean(name, N_("The name of the class is missing."), 120)
    grade = " ".join((grade or "").split())[:40] or None
    existing = s.scalar(select(Classroom.id).where(
        Classroom.school_id == school.id, Classroom.deleted.is_(False),
        func.lower(Classroom.name) == name.lower()))
    if existing is not None:
        raise Conflict(N_("The school already has a class named %(name)s."), name=name)
    classroom = Classroom(school_id=school.id, name=name, grade=grade)
    s.add(classroom)
    s.flush()
    return classroom


def list_classrooms(s: Session, school: School | None = None) -> list[Classroom]:
    """Classes, of one school or of all, by school then name."""
    query = select(Classroom).join(School, School.id == Classroom.school_id).where(
        Classroom.deleted.is_(False), School.deleted.is_(False))
    if school is not None:
        query = query.where(Classroom.school_id == school.id)
    rows = list(s.scalars(query))
    return sorted(rows, key=lambda c: (sort_key(c.school.name), sort_key(c.name)))


def get_classroom(s: Session, classroom_id: uuid.UUID) -> Classroom:
    classroom = s.get(Classroom, classroom_id)
    if classroom is None or classroom.deleted:
        raise NotFound(N_("This class does not exist."))
    return classroom


def find_classroom(s: Session, school: School, name: str) -> Classroom:
    """A class of the school by its name (case ignored), for the command line and files."""
    classroom = s.scalar(select(Classroom).where(
        Classroom.school_id == school.id, Classroom.deleted.is_(False),
        func.lower(Classroom.name) == " ".join((name or "").split()).lower()))
    if classroom is None:
        raise NotFound(N_("School %(school)s has no class named %(name)s. See 'ardoise class "
                          "list'."), school=school.code, name=name)
    return classroom


def enroll(s: Session, classroom: Classroom, user: User, role: Role | None = None
           ) -> Enrollment:
    """Put a student in a class or make a teacher teach it (idempotent).

    The enrolment role follows the user's (an administrator is enrolled as a teacher).
    """
    if user.school_id != classroom.school_id:
        raise Invalid(N_("%(name)s belongs to another school than the class %(classroom)s."),
                      name=user.full_name, classroom=classroom.name)
    if role is None:
        role = Role.STUDENT if user.role == Role.STUDENT else Role.TEACHER
    if (role == Role.STUDENT) != (user.role == Role.STUDENT) or role == Role.ADMIN:
        raise Invalid(N_("%(name)s cannot be enrolled as %(role)s."), name=user.full_name,
                      role=str(role))
    row = s.scalar(select(Enrollment).where(Enrollment.classroom_id == classroom.id,
                                            Enrollment.user_id == user.id))
    if row is None:
        row = Enrollment(school_id=classroom.school_id, classroom_id=classroom.id,
                         user_id=user.id, role=role)
        s.add(row)
    else:
        row.deleted = False
        row.role = role
    s.flush()
    return row


def unenroll(s: Session, classroom: Classroom, user: User) -> None:
    """Take a user out of a class (a tombstone, so the removal syncs)."""
    row = s.scalar(select(Enrollment).where(Enrollment.classroom_id == classroom.id,
                                            Enrollment.user_id == user.id,
                                            Enrollment.deleted.is_(False)))
    if row is None:
        raise NotFound(N_("%(name)s is not in the class %(classroom)s."), name=user.full_name,
                       classroom=classroom.name)
    row.deleted = True
    s.flush()


def _members(s: Session, classroom: Classroom, role: Role) -> list[User]:
    rows = s.scalars(select(User).join(Enrollment, Enrollment.user_id == User.id).where(
        Enrollment.classroom_id == classroom.id, Enrollment.deleted.is_(False),
        Enrollment.role == role, User.deleted.is_(False)))
    return sorted(rows, key=lambda u: sort_key(u.full_name))


def students_of(s: Session, classroom: Classroom, *, include_inactive: bool = False
                ) -> list[User]:
    """The class's students, by name (deactivated ones only if asked)."""
    return [u for u in _members(s, classroom, Role.STUDENT) if include_inactive or u.active]


def teachers_of(s: Session, classroom: Classroom) -> list[User]:
    return _members(s, classroom, Role.TEACHER)


def classes_of(s: Session, user: User) -> list[Classroom]:
    """The classes a user is enrolled in (as a student or as a teacher)."""
    rows = s.scalars(select(Classroom).join(Enrollment, Enrollment.classroom_id == Classroom.id)
                     .where(Enrollment.user_id == user.id, Enrollment.deleted.is_(False),
                            Classroom.deleted.is_(False)))
    return sorted(rows, key=lambda c: sort_key(c.name))


def teachers_classes(s: Session, user: User) -> list[Classroom]:
    """The classes a user may manage: those a teacher teaches; every class of an
    administrator's school; none for a student."""
    if user.role == Role.ADMIN:
        return list_classrooms(s, user.school)
    if user.role != Role.TEACHER:
        return []
    return classes_of(s, user)


def managed_classroom(s: Session, user: User, classroom_id: uuid.UUID) -> Classroom:
    """The class, if `user` may manage it (its teacher, or an administrator of its school).

    Anything else answers NotFound, like an unknown id (another teacher's class included),
    so ids reveal nothing; the same rule as classwork's visibility.
    """
    classroom = get_classroom(s, classroom_id)
    if classroom.school_id != user.school_id:
        raise NotFound(N_("This class does not exist."))
    if user.role == Role.ADMIN:
        return classroom
    if user.role == Role.TEACHER:
        teaches = s.scalar(select(Enrollment.id).where(
            Enrollment.classroom_id == classroom.id, Enrollment.user_id == user.id,
            Enrollment.role == Role.TEACHER, Enrollment.deleted.is_(False)))
        if teaches is not None:
            return classroom
    raise NotFound(N_("This class does not exist."))


def picker_entries(s: Session, classroom: Classroom) -> list[tuple[User, str]]:
    """The class's active students with the name shown on the public picker, in order."""
    students = students_of(s, classroom)
    names = display_names((u.id, u.full_name, u.username) for u in students)
    return sorted(((u, names[u.id]) for u in students), key=lambda e: sort_key(e[1]))
