"""Assignments as teachers write them: fields, targets, attached resources, life cycle.

An assignment starts as a draft (invisible to students), is published (students see it
and hand in), then closed (students still see it and their feedback, but can no longer
hand in); a closed assignment may be reopened. Every other move is a Conflict, because
students may already have handed in work for it. Targets and resources are rows that
are switched off (tombstoned) rather than deleted, so the change syncs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.db import utcnow
from ardoise.errors import Conflict, Invalid
from ardoise.i18n import N_
from hub.classwork import resources as library
from hub.classwork.visibility import (
    assignment_for_staff,
    class_for_staff,
    class_students,
)
from hub.models import (
    Assignment,
    AssignmentResource,
    AssignmentStatus,
    AssignmentTarget,
    Enrollment,
    Group,
    GroupMember,
    Role,
    Submission,
    User,
)

TITLE_MAX = 200
INSTRUCTIONS_MAX = 20_000
RESOURCES_MAX = 30

#: Allowed status moves; staying put is always allowed (a PATCH may repeat itself).
TRANSITIONS: dict[AssignmentStatus, frozenset[AssignmentStatus]] = {
    AssignmentStatus.DRAFT: frozenset({AssignmentStatus.PUBLISHED}),
    AssignmentStatus.PUBLISHED: frozenset({AssignmentStatus.CLOSED}),
    AssignmentStatus.CLOSED: frozenset({AssignmentStatus.PUBLISHED}),
}


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Targets:
    """Who an assignment is for. Neither groups nor students: the whole class."""

    group_ids: tuple[uuid.UUID, ...] = ()
    student_ids: tuple[uuid.UUID, ...] = ()

    @property
    def whole_class(self) -> bool:
        return not self.group_ids and not self.student_ids


@dataclass
class AssignmentSummary:
    """A line of a class's assignment list."""

    assignment: Assignment
    targeted: int
    handed_in: int


# -- validation -------------------------------------------------------------------------

def _clean_title(title: object) -> str:
    if not isinstance(title, str) or not title.strip():
        raise Invalid(N_("The title is empty: give the assignment a title."), field="title")
    title = " ".join(title.split())
    if len(title) > TITLE_MAX:
        raise Invalid(N_("The title is too long: %(max)s characters at most."), field="title",
                      max=TITLE_MAX)
    return title


def _clean_instructions(text: object) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise Invalid(N_("The instructions must be text."), field="instructions")
    text = text.replace("\r\n", "\n").strip()
    if len(text) > INSTRUCTIONS_MAX:
        raise Invalid(N_("The instructions are too long: %(max)s characters at most."),
                      field="instructions", max=INSTRUCTIONS_MAX)
    return text


def _clean_due(due_at: object) -> dt.datetime | None:
    if due_at is None:
        return None
    if not isinstance(due_at, dt.datetime) or due_at.tzinfo is None:
        raise Invalid(N_("The due date must be a date and time with its time zone."),
                      field="due_at")
    return due_at.astimezone(dt.UTC)


def _clean_resources(s: Session, uids: Iterable[object]) -> list[str]:
    cleaned = list(dict.fromkeys(str(u).strip() for u in uids if str(u).strip()))
    if len(cleaned) > RESOURCES_MAX:
        raise Invalid(N_("Too many resources: %(max)s at most."), field="resources",
                      max=RESOURCES_MAX)
    absent = library.missing(s, cleaned)
    if absent:
        raise Invalid(N_("These resources are not in the library: %(uids)s."),
                      field="resources", uids=", ".join(absent))
    return cleaned


def _clean_targets(s: Session, classroom_id: uuid.UUID, group_ids: Iterable[uuid.UUID],
                   student_ids: Iterable[uuid.UUID]) -> Targets:
    groups = tuple(dict.fromkeys(group_ids))
    students = tuple(dict.fromkeys(student_ids))
    if groups:
        known = set(s.scalars(select(Group.id).where(
            Group.id.in_(groups), Group.classroom_id == classroom_id,
            Group.deleted.is_(False))))
        if set(groups) - known:
            raise Invalid(N_("A chosen group is not a group of this class."), field="groups")
    if students:
        known = set(s.scalars(select(Enrollment.user_id).where(
            Enrollment.user_id.in_(students), Enrollment.classroom_id == classroom_id,
            Enrollment.role == Role.STUDENT, Enrollment.deleted.is_(False))))
        if set(students) - known:
            raise Invalid(N_("A chosen student is not in this class."), field="students")
    return Targets(groups, students)


def parse_status(value: object) -> AssignmentStatus:
    try:
        return AssignmentStatus(str(value))
    except ValueError:
        raise Invalid(N_("Unknown status %(value)s: use draft, published or closed."),
                      field="status", value=str(value)) from None


# -- reading ----------------------------------------------------------------------------

def resource_uids(s: Session, assignment_id: uuid.UUID) -> list[str]:
    return list(s.scalars(select(AssignmentResource.resource_uid).where(
        AssignmentResource.assignment_id == assignment_id,
        AssignmentResource.deleted.is_(False)).order_by(AssignmentResource.position)))


def targets_of(s: Session, assignment_id: uuid.UUID) -> Targets:
    rows = s.execute(select(AssignmentTarget.group_id, AssignmentTarget.user_id).where(
        AssignmentTarget.assignment_id == assignment_id,
        AssignmentTarget.deleted.is_(False)).order_by(AssignmentTarget.id)).all()
    return Targets(tuple(g for g, _u in rows if g is not None),
                   tuple(u for _g, u in rows if u is not None))


def targeted_ids(s: Session, classroom_id: uuid.UUID, assignment_ids: Sequence[uuid.UUID]
                 ) -> dict[uuid.UUID, set[uuid.UUID]]:
    """For each assignment of a class, the ids of the students it is for (three queries
    whatever the number of assignments)."""
    students = {u.id for u in class_students(s, classroom_id)}
    targets: dict[uuid.UUID, list[tuple[uuid.UUID | None, uuid.UUID | None]]] = defaultdict(list)
    if assignment_ids:
        for aid, gid, uid in s.execute(select(
                AssignmentTarget.assignment_id, AssignmentTarget.group_id,
                AssignmentTarget.user_id).where(
                AssignmentTarget.assignment_id.in_(assignment_ids),
                AssignmentTarget.deleted.is_(False))):
            targets[aid].append((gid, uid))
    members: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for gid, uid in s.execute(select(GroupMember.group_id, GroupMember.user_id).where(
            GroupMember.classroom_id == classroom_id, GroupMember.deleted.is_(False))):
        members[gid].add(uid)
    out: dict[uuid.UUID, set[uuid.UUID]] = {}
    for aid in assignment_ids:
        rows = targets.get(aid)
        if not rows:
            out[aid] = set(students)
            continue
        chosen: set[uuid.UUID] = set()
        for gid, uid in rows:
            if gid is not None:
                chosen |= members.get(gid, set())
            if uid is not None:
                chosen.add(uid)
        out[aid] = chosen & students
    return out


def list_for_class(s: Session, user: User, classroom_id: uuid.UUID
                   ) -> list[AssignmentSummary]:
    """The class's assignments, newest first, with how many targeted students handed in."""
    class_for_staff(s, user, classroom_id)
    items = list(s.scalars(select(Assignment).where(
        Assignment.classroom_id == classroom_id, Assignment.deleted.is_(False))
        .order_by(Assignment.id.desc())))
    ids = [a.id for a in items]
    targeted = targeted_ids(s, classroom_id, ids)
    handed: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    if ids:
        for aid, sid in s.execute(select(Submission.assignment_id, Submission.student_id)
                                  .where(Submission.assignment_id.in_(ids),
                                         Submission.deleted.is_(False)).distinct()):
            handed[aid].add(sid)
    return [AssignmentSummary(a, len(targeted[a.id]), len(handed[a.id] & targeted[a.id]))
            for a in items]


# -- writing ----------------------------------------------------------------------------

def _set_targets(s: Session, a: Assignment, targets: Targets) -> None:
    existing = list(s.scalars(select(AssignmentTarget).where(
        AssignmentTarget.assignment_id == a.id)))
    wanted = {("g", g) for g in targets.group_ids} | {("u", u) for u in targets.student_ids}
    seen = set()
    for row in existing:
        key = ("g", row.group_id) if row.group_id is not None else ("u", row.user_id)
        keep = key in wanted and key not in seen
        seen.add(key)
        if row.deleted == keep:
            row.deleted = not keep
    for kind, value in sorted(wanted - seen, key=str):
        s.add(AssignmentTarget(
            school_id=a.school_id, classroom_id=a.classroom_id, assignment_id=a.id,
            group_id=value if kind == "g" else None, user_id=value if kind == "u" else None))


def _set_resources(s: Session, a: Assignment, uids: list[str]) -> None:
    existing = {r.resource_uid: r for r in s.scalars(select(AssignmentResource).where(
        AssignmentResource.assignment_id == a.id))}
    for uid, row in existing.items():
        if uid not in uids and not row.deleted:
            row.deleted = True
    for position, uid in enumerate(uids):
        row = existing.get(uid)
        if row is None:
            s.add(AssignmentResource(school_id=a.school_id, classroom_id=a.classroom_id,
                                     assignment_id=a.id, resource_uid=uid, position=position))
        elif row.deleted or row.position != position:
            row.deleted, row.position = False, position


def _move(a: Assignment, target: AssignmentStatus, now: dt.datetime) -> None:
    if target == a.status:
        return
    if target not in TRANSITIONS[a.status]:
        if target is AssignmentStatus.DRAFT:
            raise Conflict(N_("A published assignment cannot go back to draft: students may "
                              "have seen it. Close it instead."), field="status",
                           current=str(a.status), requested=str(target))
        raise Conflict(N_("A draft cannot be closed: publish it first."), field="status",
                       current=str(a.status), requested=str(target))
    a.status = target
    if target is AssignmentStatus.PUBLISHED:
        a.published_at = a.published_at or now
        a.closed_at = None
    elif target is AssignmentStatus.CLOSED:
        a.closed_at = now


def create_assignment(s: Session, user: User, classroom_id: uuid.UUID, *, title: object,
                      instructions: object = "", due_at: object = None,
                      resource_uids: Iterable[object] = (),
                      group_ids: Iterable[uuid.UUID] = (),
                      student_ids: Iterable[uuid.UUID] = (),
                      status: object = AssignmentStatus.DRAFT,
                      now: dt.datetime | None = None) -> Assignment:
    """Write a new assignment for a class `user` teaches (a draft unless `status` says
    published), and commit."""
    classroom = class_for_staff(s, user, classroom_id)
    a = Assignment(school_id=classroom.school_id, classroom_id=classroom.id,
                   author_id=user.id, title=_clean_title(title),
                   instructions=_clean_instructions(instructions), due_at=_clean_due(due_at),
                   status=AssignmentStatus.DRAFT)
    uids = _clean_resources(s, resource_uids)
    targets = _clean_targets(s, classroom.id, group_ids, student_ids)
    _move(a, parse_status(status), now or utcnow())
    s.add(a)
    s.flush()
    _set_targets(s, a, targets)
    _set_resources(s, a, uids)
    s.commit()
    return a


def update_assignment(s: Session, user: User, assignment_id: uuid.UUID, *,
                      title: object = UNSET, instructions: object = UNSET,
                      due_at: object = UNSET, resource_uids: Any = UNSET,
                      group_ids: Any = UNSET, student_ids: Any = UNSET,
                      status: Any = UNSET, now: dt.datetime | None = None) -> Assignment:
    """Change the given fields (others stay as they are), then the status, and commit.
    Everything is checked before anything is written."""
    a = assignment_for_staff(s, user, assignment_id)
    changes: dict[str, Any] = {}
    if title is not UNSET:
        changes["title"] = _clean_title(title)
    if instructions is not UNSET:
        changes["instructions"] = _clean_instructions(instructions)
    if due_at is not UNSET:
        changes["due_at"] = _clean_due(due_at)
    uids = _clean_resources(s, resource_uids) if resource_uids is not UNSET else None
    targets = None
    if group_ids is not UNSET or student_ids is not UNSET:
        current = targets_of(s, a.id)
        targets = _clean_targets(
            s, a.classroom_id,
            current.group_ids if group_ids is UNSET else group_ids,
            current.student_ids if student_ids is UNSET else student_ids)
    try:
        if status is not UNSET:
            _move(a, parse_status(status), now or utcnow())
        for name, value in changes.items():
            setattr(a, name, value)
        if targets is not None:
            _set_targets(s, a, targets)
        if uids is not None:
            _set_resources(s, a, uids)
        s.commit()
    except BaseException:
        s.rollback()
        raise
    return a


def set_status(s: Session, user: User, assignment_id: uuid.UUID, status: object,
               now: dt.datetime | None = None) -> Assignment:
    """Publish, close or reopen; Conflict (409) for a move the life cycle does not allow."""
    return update_assignment(s, user, assignment_id, status=status, now=now)
