"""The class progress table: students down, the resources of the class's assignments
across, each cell "opened" or "finished" from the progress log.

Built in five queries whatever the class size (class, students, resource ids, their
titles, one query over ProgressEvent), so it stays quick to print at the end of a week.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.classwork import resources as library
from hub.classwork.resources import ResourceRef
from hub.classwork.visibility import VISIBLE_TO_STUDENTS, class_for_staff, class_students
from hub.models import (
    Assignment,
    AssignmentResource,
    Classroom,
    ProgressEvent,
    ProgressKind,
    User,
)


class Cell(enum.StrEnum):
    NONE = "none"
    OPENED = "opened"
    FINISHED = "finished"


@dataclass
class ProgressTable:
    classroom: Classroom
    students: list[User]
    resources: list[ResourceRef]
    cells: dict[tuple[uuid.UUID, str], Cell]

    def cell(self, student_id: uuid.UUID, uid: str) -> Cell:
        return self.cells.get((student_id, uid), Cell.NONE)

    def finished_count(self, uid: str) -> int:
        return sum(1 for st in self.students if self.cell(st.id, uid) is Cell.FINISHED)


def class_uids(s: Session, classroom_id: uuid.UUID) -> list[str]:
    """Resources attached to the class's published or closed assignments, oldest
    assignment first, each once."""
    rows = s.scalars(
        select(AssignmentResource.resource_uid)
        .join(Assignment, Assignment.id == AssignmentResource.assignment_id)
        .where(Assignment.classroom_id == classroom_id, Assignment.deleted.is_(False),
               Assignment.status.in_(VISIBLE_TO_STUDENTS), AssignmentResource.deleted.is_(False))
        .order_by(Assignment.id, AssignmentResource.position))
    return list(dict.fromkeys(rows))


def class_progress(s: Session, user: User, classroom_id: uuid.UUID, locale: str
                   ) -> ProgressTable:
    """The table for a class `user` teaches (NotFound otherwise)."""
    classroom = class_for_staff(s, user, classroom_id)
    students = class_students(s, classroom.id)
    uids = class_uids(s, classroom.id)
    cells: dict[tuple[uuid.UUID, str], Cell] = {}
    if students and uids:
        for uid_, resource, kind in s.execute(
                select(ProgressEvent.user_id, ProgressEvent.resource_uid, ProgressEvent.kind)
                .where(ProgressEvent.school_id == classroom.school_id,
                       ProgressEvent.user_id.in_([st.id for st in students]),
                       ProgressEvent.resource_uid.in_(uids), ProgressEvent.deleted.is_(False))
                .distinct()):
            key = (uid_, resource)
            if kind == ProgressKind.FINISHED:
                cells[key] = Cell.FINISHED
            elif key not in cells:
                cells[key] = Cell.OPENED
    return ProgressTable(classroom, students, library.describe(s, uids, locale), cells)
