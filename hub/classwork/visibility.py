"""Who sees what: the one place that scopes classes, assignments and students.

Every classwork function goes through here, so the rules hold for pages, the API and the
CLI alike. A teacher sees the classes they teach (an admin, every class of their
school). A student sees an assignment only when it is published or closed, in a class
they are enrolled in, and targeted at them: at the whole class (no target rows), at a
group they belong to, or at them by name. Anything outside a user's scope is reported as
NotFound, exactly as if it did not exist, so ids of other classes reveal nothing.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from ardoise.errors import NotFound
from ardoise.i18n import N_
from hub.models import (
    Assignment,
    AssignmentStatus,
    AssignmentTarget,
    Classroom,
    Enrollment,
    Group,
    GroupMember,
    Role,
    Submission,
    User,
)

VISIBLE_TO_STUDENTS = (AssignmentStatus.PUBLISHED, AssignmentStatus.CLOSED)


def class_not_found() -> NotFound:
    return NotFound(N_("This class does not exist or is not yours."))


def assignment_not_found() -> NotFound:
    return NotFound(N_("This assignment does not exist or is not for you."))


def is_staff(user: User) -> bool:
    return user.role in (Role.TEACHER, Role.ADMIN)


def taught_by(user: User) -> ColumnElement[bool]:
    """SQL condition on Classroom: the classes `user` may manage."""
    if user.role is Role.ADMIN:
        return and_(Classroom.school_id == user.school_id, Classroom.deleted.is_(False))
    if user.role is not Role.TEACHER:
        return Classroom.id.is_(None)  # nothing
    return and_(Classroom.deleted.is_(False), exists().where(
        Enrollment.classroom_id == Classroom.id, Enrollment.user_id == user.id,
        Enrollment.role == Role.TEACHER, Enrollment.deleted.is_(False)))


def teacher_classes(s: Session, user: User) -> list[Classroom]:
    """The classes `user` teaches (all of their school's for an admin), by name."""
    return list(s.scalars(select(Classroom).where(taught_by(user)).order_by(Classroom.name)))


def class_for_staff(s: Session, user: User, classroom_id: uuid.UUID) -> Classroom:
    """The class, if `user` may manage it; NotFound otherwise (even if it exists)."""
    found = s.scalar(select(Classroom).where(Classroom.id == classroom_id, taught_by(user)))
    if found is None:
        raise class_not_found()
    return found


def assignment_for_staff(s: Session, user: User, assignment_id: uuid.UUID) -> Assignment:
    """The assignment, if it belongs to a class `user` may manage; NotFound otherwise."""
    found = s.scalar(select(Assignment).join(Classroom, Classroom.id == Assignment.classroom_id)
                     .where(Assignment.id == assignment_id, Assignment.deleted.is_(False),
                            taught_by(user)))
    if found is None:
        raise assignment_not_found()
    return found


def _targeted(assignment_id: object, user_id: object) -> ColumnElement[bool]:
    """SQL condition: the assignment has no live target (whole class), or one naming the
    user or a group the user belongs to. Either side may be a column or a value."""
    live = and_(AssignmentTarget.assignment_id == assignment_id,
                AssignmentTarget.deleted.is_(False))
    member_of = (select(GroupMember.group_id)
                 .where(GroupMember.user_id == user_id, GroupMember.deleted.is_(False))
                 .correlate_except(GroupMember))
    return or_(~exists().where(live).correlate_except(AssignmentTarget),
               exists().where(live, or_(AssignmentTarget.user_id == user_id,
                                        AssignmentTarget.group_id.in_(member_of)))
               .correlate_except(AssignmentTarget))


def targets_student(student_id: uuid.UUID | ColumnElement[uuid.UUID]) -> ColumnElement[bool]:
    """SQL condition on Assignment: targeted at this student, who is enrolled in its class.

    Used both for the student's list (one query, `student_id` a bound parameter) and for
    opening one assignment, so the two can never disagree.
    """
    my_classes = select(Enrollment.classroom_id).where(
        Enrollment.user_id == student_id, Enrollment.role == Role.STUDENT,
        Enrollment.deleted.is_(False))
    # IN (not a correlated EXISTS) so the database starts from the student's few classes
    # and reads only their assignments through the classroom_id index.
    return and_(Assignment.classroom_id.in_(my_classes), _targeted(Assignment.id, student_id))


def visible_to_student(student_id: uuid.UUID | ColumnElement[uuid.UUID]
                       ) -> ColumnElement[bool]:
    """SQL condition on Assignment: what the student may see (published or closed, theirs)."""
    # `status = a OR status = b` rather than `IN`: an IN list is expanded into the SQL
    # again at every execution (3 % of a student's list).
    return and_(Assignment.deleted.is_(False),
                or_(*(Assignment.status == status for status in VISIBLE_TO_STUDENTS)),
                targets_student(student_id))


def assignment_for_student(s: Session, student: User, assignment_id: uuid.UUID) -> Assignment:
    """The assignment if the student may see it; NotFound for drafts, other classes' work,
    and assignments targeted at others."""
    if student.role is not Role.STUDENT:
        raise assignment_not_found()
    found = s.scalar(select(Assignment).where(Assignment.id == assignment_id,
                                              visible_to_student(student.id)))
    if found is None:
        raise assignment_not_found()
    return found


def class_students(s: Session, classroom_id: uuid.UUID) -> list[User]:
    """Active students enrolled in the class, by name."""
    return list(s.scalars(
        select(User).join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.classroom_id == classroom_id, Enrollment.role == Role.STUDENT,
               Enrollment.deleted.is_(False), User.deleted.is_(False), User.active.is_(True))
        .order_by(User.full_name, User.username)))


def targeted_students(s: Session, assignment: Assignment) -> list[User]:
    """The class's students the assignment is for, by name (everyone when untargeted)."""
    return list(s.scalars(
        select(User).join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.classroom_id == assignment.classroom_id,
               Enrollment.role == Role.STUDENT, Enrollment.deleted.is_(False),
               User.deleted.is_(False), User.active.is_(True))
        .where(_targeted(assignment.id, User.id))
        .order_by(User.full_name, User.username)))


def concerned_student(s: Session, assignment: Assignment, student_id: uuid.UUID) -> User:
    """A student of the assignment: targeted by it (and in its class), or who handed in
    for it (e.g. before leaving a group). NotFound otherwise."""
    enrolled = exists().where(Enrollment.classroom_id == assignment.classroom_id,
                              Enrollment.user_id == User.id, Enrollment.role == Role.STUDENT,
                              Enrollment.deleted.is_(False))
    handed_in = exists().where(Submission.assignment_id == assignment.id,
                               Submission.student_id == User.id,
                               Submission.deleted.is_(False))
    found = s.scalar(select(User).where(
        User.id == student_id, User.role == Role.STUDENT, User.school_id == assignment.school_id,
        or_(and_(enrolled, _targeted(assignment.id, User.id)), handed_in)))
    if found is None:
        raise NotFound(N_("This student has no work for this assignment."))
    return found


def group_for_staff(s: Session, user: User, group_id: uuid.UUID) -> Group:
    """The group, if it belongs to a class `user` may manage; NotFound otherwise."""
    found = s.scalar(select(Group).join(Classroom, Classroom.id == Group.classroom_id)
                     .where(Group.id == group_id, Group.deleted.is_(False), taught_by(user)))
    if found is None:
        raise NotFound(N_("This group does not exist or is not yours."))
    return found
