"""A teacher's comment and mark on a student's work: one editable row per student and
assignment, visible to that student only."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.db import utcnow
from ardoise.errors import Invalid
from ardoise.i18n import N_
from hub.classwork.visibility import assignment_for_staff, concerned_student
from hub.models import Feedback, Submission, User

COMMENT_MAX = 10_000
MARK_MAX = 20


def feedback_for(s: Session, assignment_id: uuid.UUID, student_id: uuid.UUID
                 ) -> Feedback | None:
    """The feedback on this student's work, if any. Callers scope the student: a student
    passes their own id, a teacher one of their class's students."""
    return s.scalar(select(Feedback).where(
        Feedback.assignment_id == assignment_id, Feedback.student_id == student_id,
        Feedback.deleted.is_(False)).order_by(Feedback.id).limit(1))


def _clean(comment: object, mark: object) -> tuple[str, str | None]:
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise Invalid(N_("The comment must be text."), field="comment")
    comment = comment.replace("\r\n", "\n").strip()
    if len(comment) > COMMENT_MAX:
        raise Invalid(N_("The comment is too long: %(max)s characters at most."),
                      field="comment", max=COMMENT_MAX)
    if isinstance(mark, (int, float)) and not isinstance(mark, bool):
        mark = str(mark)
    if mark is not None and not isinstance(mark, str):
        raise Invalid(N_("The mark must be short text, like A or 8/10."), field="mark")
    mark = " ".join((mark or "").split())
    if len(mark) > MARK_MAX:
        raise Invalid(N_("The mark is too long: %(max)s characters at most (like A or 8/10)."),
                      field="mark", max=MARK_MAX)
    return comment, mark or None


def save_feedback(s: Session, user: User, assignment_id: uuid.UUID, student_id: uuid.UUID, *,
                  comment: object, mark: object, now: dt.datetime | None = None) -> Feedback:
    """Write or rewrite the feedback of a teacher of the class on one student's work, and
    commit. It points at the hand-in it was written about (the latest one)."""
    a = assignment_for_staff(s, user, assignment_id)
    student = concerned_student(s, a, student_id)
    text, short = _clean(comment, mark)
    row = feedback_for(s, a.id, student.id)
    if row is None:
        row = Feedback(school_id=a.school_id, classroom_id=a.classroom_id, assignment_id=a.id,
                       student_id=student.id, teacher_id=user.id)
        s.add(row)
    row.comment, row.mark, row.teacher_id = text, short, user.id
    row.submission_id = s.scalar(select(Submission.id).where(
        Submission.assignment_id == a.id, Submission.student_id == student.id,
        Submission.deleted.is_(False)).order_by(Submission.created_at.desc()).limit(1))
    row.updated_at = now or utcnow()
    s.commit()
    return row
