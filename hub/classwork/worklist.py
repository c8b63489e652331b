"""A student's "To do" and "Done" lists, in one query.

This is what every tablet opens first, often thirty at once when a class starts, so it
is one SELECT: the visible assignments with, for each, the student's latest hand-in time
and whether feedback exists (correlated subqueries on indexed columns), sorted in Python.
The statement is built once, with the student as a bound parameter (building it took
0.7 ms of each call, running it 0.1 ms), and runs on the session's connection: its rows are
plain values, which the ORM's result machinery would only have passed through (7 % of the
JSON list's time).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import uuid
from dataclasses import dataclass, field

from sqlalchemy import Select, Uuid, bindparam, exists, func, select
from sqlalchemy.orm import Session

from ardoise.db import utcnow
from hub.classwork.visibility import visible_to_student
from hub.models import Assignment, AssignmentStatus, Feedback, Submission


class WorkStatus(enum.StrEnum):
    """Where the student stands on one assignment."""

    TODO = "todo"  # published, not handed in, not yet due
    OVERDUE = "overdue"  # published, not handed in, past its due date (may still hand in)
    HANDED_IN = "handed_in"  # latest hand-in on time (or no due date)
    LATE = "late"  # latest hand-in after the due date
    MISSED = "missed"  # closed without a hand-in


def work_status(due_at: dt.datetime | None, handed_in_at: dt.datetime | None, closed: bool,
                now: dt.datetime) -> WorkStatus:
    if handed_in_at is not None:
        return WorkStatus.LATE if due_at is not None and handed_in_at > due_at else (
            WorkStatus.HANDED_IN)
    if closed:
        return WorkStatus.MISSED
    return WorkStatus.OVERDUE if due_at is not None and now > due_at else WorkStatus.TODO


@dataclass(frozen=True)
class WorkItem:
    id: uuid.UUID
    title: str
    due_at: dt.datetime | None
    status: WorkStatus
    handed_in_at: dt.datetime | None
    closed: bool
    has_feedback: bool


@dataclass
class Worklist:
    todo: list[WorkItem] = field(default_factory=list)
    done: list[WorkItem] = field(default_factory=list)


_FAR = dt.datetime.max.replace(tzinfo=dt.UTC)
_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


@functools.cache
def _worklist_statement() -> Select[tuple[object, ...]]:
    """The one SELECT, for any student (`:student_id`)."""
    student_id = bindparam("student_id", type_=Uuid())
    last_hand_in = (select(func.max(Submission.created_at))
                    .where(Submission.assignment_id == Assignment.id,
                           Submission.student_id == student_id,
                           Submission.deleted.is_(False))
                    .correlate(Assignment).scalar_subquery())
    has_feedback = exists().where(Feedback.assignment_id == Assignment.id,
                                  Feedback.student_id == student_id,
                                  Feedback.deleted.is_(False)).correlate(Assignment)
    return (select(Assignment.id, Assignment.title, Assignment.due_at, Assignment.status,
                   last_hand_in.label("handed_in_at"), has_feedback.label("has_feedback"))
            .where(visible_to_student(student_id)))


def worklist(s: Session, student_id: uuid.UUID, now: dt.datetime | None = None) -> Worklist:
    """The assignments targeted at the student: still to hand in (soonest due first), and
    done: handed in or closed (most recent first)."""
    now = now or utcnow()
    s.flush()  # as Session.execute would: the caller's pending changes count
    rows = s.connection().execute(_worklist_statement(), {"student_id": student_id})
    out = Worklist()
    for aid, title, due_at, status, handed_in_at, feedback in rows:
        closed = status == AssignmentStatus.CLOSED
        item = WorkItem(aid, title, due_at, work_status(due_at, handed_in_at, closed, now),
                        handed_in_at, closed, bool(feedback))
        (out.todo if item.status in (WorkStatus.TODO, WorkStatus.OVERDUE) else out.done
         ).append(item)
    out.todo.sort(key=lambda i: (i.due_at or _FAR, i.id))
    out.done.sort(key=lambda i: (i.handed_in_at or i.due_at or _EPOCH, i.id), reverse=True)
    return out
