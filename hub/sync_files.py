"""Handed-in files that neither this hub nor its central holds, in a teacher's words.

The sync engine records such files (`sync.blobs`: a hub re-flashed before it could send
them, or work from another hub of the school that has not synced yet) and asks for them
again only now and then. The sync page lists them: whose work, which class and
assignment, when it was handed in; a teacher sees those of the classes they teach, an
administrator those of the whole school, and everyone how many there are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.classwork.visibility import taught_by
from hub.models import Assignment, Classroom, Submission, SubmissionFile, User
from sync import blobs


@dataclass(frozen=True)
class MissingFile:
    filename: str
    student: str
    classroom: str
    assignment: str
    handed_in_at: dt.datetime
    missing_since: dt.datetime
    next_try_at: dt.datetime


@dataclass(frozen=True)
class MissingReport:
    total: int  # every missing file of the hub, whoever may see it
    files: list[MissingFile]  # those `user` may see


def missing_files(s: Session, user: User) -> MissingReport:
    """The files the sync could not find anywhere, as `user` may see them."""
    records = {r["sha256"]: r for r in blobs.missing_files(s.connection())}
    if not records:
        return MissingReport(0, [])
    rows = s.execute(
        select(SubmissionFile.sha256, SubmissionFile.filename, User.full_name, Classroom.name,
               Assignment.title, Submission.created_at)
        .join(Submission, Submission.id == SubmissionFile.submission_id)
        .join(User, User.id == SubmissionFile.student_id)
        .join(Classroom, Classroom.id == SubmissionFile.classroom_id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(SubmissionFile.sha256.in_(list(records)), SubmissionFile.deleted.is_(False),
               taught_by(user))
        .order_by(Submission.created_at, SubmissionFile.filename)).all()
    files = [MissingFile(name, student, room, title, at, records[sha]["first_missing_at"],
                         records[sha]["next_ask_at"])
             for sha, name, student, room, title, at in rows]
    return MissingReport(len(records), files)


__all__ = ["MissingFile", "MissingReport", "missing_files"]
