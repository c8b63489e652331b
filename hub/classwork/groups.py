"""Groups inside a class (reading groups, teams), used to target assignments.

Leaving a group tombstones the membership row instead of deleting it, so the change
syncs; joining again revives the same row (one row per group and student).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.errors import Invalid
from ardoise.i18n import N_
from hub.classwork.visibility import class_for_staff, class_students, group_for_staff
from hub.models import Enrollment, Group, GroupMember, Role, User

NAME_MAX = 120


@dataclass
class GroupInfo:
    group: Group
    members: list[User]


def _clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid(N_("The group name is empty: give the group a name."), field="name")
    name = " ".join(name.split())
    if len(name) > NAME_MAX:
        raise Invalid(N_("The group name is too long: %(max)s characters at most."),
                      field="name", max=NAME_MAX)
    return name


def list_groups(s: Session, user: User, classroom_id: uuid.UUID) -> list[GroupInfo]:
    """The class's groups by name, each with its current members by name (two queries)."""
    class_for_staff(s, user, classroom_id)
    groups = list(s.scalars(select(Group).where(Group.classroom_id == classroom_id,
                                                Group.deleted.is_(False)).order_by(Group.name)))
    members: dict[uuid.UUID, list[User]] = {g.id: [] for g in groups}
    if groups:
        for gid, student in s.execute(
                select(GroupMember.group_id, User).join(User, User.id == GroupMember.user_id)
                .where(GroupMember.group_id.in_(members), GroupMember.deleted.is_(False),
                       User.deleted.is_(False))
                .order_by(User.full_name, User.username)):
            members[gid].append(student)
    return [GroupInfo(g, members[g.id]) for g in groups]


def get_group(s: Session, user: User, group_id: uuid.UUID) -> GroupInfo:
    group = group_for_staff(s, user, group_id)
    members = list(s.scalars(
        select(User).join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group.id, GroupMember.deleted.is_(False),
               User.deleted.is_(False)).order_by(User.full_name, User.username)))
    return GroupInfo(group, members)


def create_group(s: Session, user: User, classroom_id: uuid.UUID, name: object) -> Group:
    classroom = class_for_staff(s, user, classroom_id)
    group = Group(school_id=classroom.school_id, classroom_id=classroom.id,
                  name=_clean_name(name))
    s.add(group)
    s.commit()
    return group


def rename_group(s: Session, user: User, group_id: uuid.UUID, name: object) -> Group:
    group = group_for_staff(s, user, group_id)
    group.name = _clean_name(name)
    s.commit()
    return group


def add_member(s: Session, user: User, group_id: uuid.UUID, student_id: uuid.UUID) -> None:
    """Put a student of the group's class in the group (nothing happens if already in)."""
    group = group_for_staff(s, user, group_id)
    enrolled = s.scalar(select(Enrollment.id).where(
        Enrollment.classroom_id == group.classroom_id, Enrollment.user_id == student_id,
        Enrollment.role == Role.STUDENT, Enrollment.deleted.is_(False)))
    if enrolled is None:
        raise Invalid(N_("This student is not in the group's class."), field="student_id")
    row = s.scalar(select(GroupMember).where(GroupMember.group_id == group.id,
                                             GroupMember.user_id == student_id))
    if row is None:
        s.add(GroupMember(school_id=group.school_id, classroom_id=group.classroom_id,
                          group_id=group.id, user_id=student_id))
    elif row.deleted:
        row.deleted = False
    s.commit()


def remove_member(s: Session, user: User, group_id: uuid.UUID, student_id: uuid.UUID) -> None:
    """Take a student out of the group (nothing happens if not in it)."""
    group = group_for_staff(s, user, group_id)
    row = s.scalar(select(GroupMember).where(GroupMember.group_id == group.id,
                                             GroupMember.user_id == student_id,
                                             GroupMember.deleted.is_(False)))
    if row is not None:
        row.deleted = True
        s.commit()


def candidates(s: Session, user: User, group_id: uuid.UUID) -> list[User]:
    """Students of the class not yet in the group, for the "add" list."""
    info = get_group(s, user, group_id)
    inside = {m.id for m in info.members}
    return [u for u in class_students(s, info.group.classroom_id) if u.id not in inside]
