"""Handing in work, and reading it back: the student's own, or a class's for its teacher.

A hand-in is saved completely or not at all. Files are checked and staged first (type,
size, disk space), moved into the blob store, and only then are the Submission and its
SubmissionFile rows written in one transaction. Any failure before the commit removes
the staged files and writes no row; see `hub.classwork.blobs` for the orphan case.
Handing in again adds a new Submission (the log is append-only); the latest counts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.db import utcnow
from ardoise.errors import Conflict, Invalid, NotFound
from ardoise.i18n import N_
from ardoise.ids import uuid7
from hub.classwork.assignments import resource_uids
from hub.classwork.blobs import BlobStore
from hub.classwork.feedback import feedback_for
from hub.classwork.visibility import (
    assignment_for_staff,
    assignment_for_student,
    concerned_student,
    targeted_students,
    taught_by,
)
from hub.classwork.worklist import WorkStatus, work_status
from hub.models import (
    Assignment,
    AssignmentStatus,
    Classroom,
    Feedback,
    Role,
    Submission,
    SubmissionFile,
    User,
)
from sync.blobs import stored_form

TEXT_MAX = 20_000
INLINE_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
FILES_MAX = 10


@dataclass
class Upload:
    """A file as it arrives: the name the device gave it and a readable binary stream."""

    filename: str | None
    stream: BinaryIO


@dataclass(frozen=True)
class FileView:
    id: uuid.UUID
    filename: str
    media_type: str
    size: int
    sha256: str

    @property
    def kind(self) -> str:
        """How a page shows it: "image" inline (types every browser draws; HEIC is not
        one), "audio" in a player, else a link."""
        if self.media_type in INLINE_IMAGES:
            return "image"
        return "audio" if self.media_type.startswith("audio/") else "document"


@dataclass(frozen=True)
class SubmissionView:
    id: uuid.UUID
    text: str
    handed_in_at: dt.datetime
    late: bool
    files: list[FileView]


@dataclass
class StudentWork:
    """One student's work on one assignment: hand-ins newest first, and the feedback."""

    student: User
    status: WorkStatus
    submissions: list[SubmissionView] = field(default_factory=list)
    feedback: Feedback | None = None

    @property
    def latest(self) -> SubmissionView | None:
        return self.submissions[0] if self.submissions else None


@dataclass
class AssignmentForStudent:
    assignment: Assignment
    resource_uids: list[str]
    work: StudentWork

    @property
    def can_hand_in(self) -> bool:
        return self.assignment.status is AssignmentStatus.PUBLISHED


@dataclass
class HandInRow:
    """A line of the teacher's "who handed in" table."""

    student: User
    status: WorkStatus
    handed_in_at: dt.datetime | None
    count: int
    targeted: bool
    feedback: Feedback | None
    submissions: list[SubmissionView] = field(default_factory=list)


def _clean_text(text: object) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise Invalid(N_("The text must be text."), field="text")
    text = text.replace("\r\n", "\n").strip()
    if len(text) > TEXT_MAX:
        raise Invalid(N_("The text is too long: %(max)s characters at most."), field="text",
                      max=TEXT_MAX)
    return text


def hand_in(s: Session, store: BlobStore, student: User, assignment_id: uuid.UUID, *,
            text: object, uploads: Sequence[Upload], max_bytes: int,
            now: dt.datetime | None = None) -> Submission:
    """Save a student's hand-in (text and files) for a published assignment they may see.

    Raises NotFound (not theirs), Conflict (closed), Invalid (empty, too many files),
    TooLarge, UnsupportedType, StorageFull; in every case nothing is kept.
    """
    a = assignment_for_student(s, student, assignment_id)
    if a.status is not AssignmentStatus.PUBLISHED:
        raise Conflict(N_("This assignment is closed: it no longer takes work. Talk to your "
                          "teacher."))
    body = _clean_text(text)
    uploads = list(uploads)
    if not body and not uploads:
        raise Invalid(N_("Nothing to hand in: write something or add a file."), field="text")
    if len(uploads) > FILES_MAX:
        raise Invalid(N_("Too many files: %(max)s at most per hand-in."), field="files",
                      max=FILES_MAX)
    with store.batch() as batch:
        for up in uploads:
            batch.add(up.stream, up.filename, max_bytes)
        batch.publish()
        try:
            sub = Submission(school_id=a.school_id, classroom_id=a.classroom_id,
                             assignment_id=a.id, student_id=student.id, text=body,
                             created_at=now or utcnow())
            s.add(sub)
            s.flush()
            # ids sorted so the files list in the order they were given (UUIDv7 made
            # within one millisecond are not ordered otherwise)
            for file_id, blob in zip(sorted(uuid7() for _ in batch.staged), batch.staged,
                                     strict=True):
                s.add(SubmissionFile(
                    id=file_id, school_id=a.school_id, classroom_id=a.classroom_id,
                    student_id=student.id, submission_id=sub.id, sha256=blob.sha256,
                    filename=blob.filename, media_type=blob.file_type.media_type,
                    size=blob.size))
            s.commit()
        except BaseException:
            s.rollback()
            raise
    return sub


def _submissions(s: Session, assignment: Assignment, student_id: uuid.UUID | None = None
                 ) -> dict[uuid.UUID, list[SubmissionView]]:
    """Hand-ins for the assignment (of one student, or of all), newest first, by student,
    with their files: two queries."""
    stmt = select(Submission).where(Submission.assignment_id == assignment.id,
                                    Submission.deleted.is_(False))
    if student_id is not None:
        stmt = stmt.where(Submission.student_id == student_id)
    subs = list(s.scalars(stmt.order_by(Submission.created_at.desc(), Submission.id.desc())))
    files: dict[uuid.UUID, list[FileView]] = {sub.id: [] for sub in subs}
    if subs:
        for f in s.scalars(select(SubmissionFile).where(
                SubmissionFile.submission_id.in_(files), SubmissionFile.deleted.is_(False))
                .order_by(SubmissionFile.id)):
            files[f.submission_id].append(
                FileView(f.id, f.filename, f.media_type, f.size, f.sha256))
    due = assignment.due_at
    out: dict[uuid.UUID, list[SubmissionView]] = {}
    for sub in subs:
        out.setdefault(sub.student_id, []).append(SubmissionView(
            sub.id, sub.text, sub.created_at, due is not None and sub.created_at > due,
            files[sub.id]))
    return out


def _work(s: Session, assignment: Assignment, student: User, now: dt.datetime) -> StudentWork:
    subs = _submissions(s, assignment, student.id).get(student.id, [])
    closed = assignment.status is AssignmentStatus.CLOSED
    status = work_status(assignment.due_at, subs[0].handed_in_at if subs else None, closed, now)
    return StudentWork(student, status, subs, feedback_for(s, assignment.id, student.id))


def my_work(s: Session, student: User, assignment_id: uuid.UUID,
            now: dt.datetime | None = None) -> AssignmentForStudent:
    """An assignment as its student sees it: the resources, their own hand-ins, their own
    feedback. NotFound when the assignment is not for them."""
    a = assignment_for_student(s, student, assignment_id)
    return AssignmentForStudent(a, resource_uids(s, a.id), _work(s, a, student, now or utcnow()))


def work_for_staff(s: Session, user: User, assignment_id: uuid.UUID, student_id: uuid.UUID,
                   now: dt.datetime | None = None) -> StudentWork:
    """One student's work for a teacher of the class (NotFound outside their classes)."""
    a = assignment_for_staff(s, user, assignment_id)
    return _work(s, a, concerned_student(s, a, student_id), now or utcnow())


def class_work(s: Session, user: User, assignment_id: uuid.UUID,
               now: dt.datetime | None = None) -> tuple[Assignment, list[HandInRow]]:
    """Who handed in: every targeted student (and anyone else who handed in, e.g. before
    leaving a group), by name, with status, hand-ins and feedback. Five queries whatever
    the class size."""
    now = now or utcnow()
    a = assignment_for_staff(s, user, assignment_id)
    targeted = {u.id: u for u in targeted_students(s, a)}
    subs = _submissions(s, a)
    feedback = {f.student_id: f for f in s.scalars(select(Feedback).where(
        Feedback.assignment_id == a.id, Feedback.deleted.is_(False)))}
    students = dict(targeted)
    others = set(subs) - set(targeted)
    if others:
        students.update({u.id: u for u in s.scalars(select(User).where(User.id.in_(others)))})
    closed = a.status is AssignmentStatus.CLOSED
    rows = []
    for sid, student in students.items():
        mine = subs.get(sid, [])
        at = mine[0].handed_in_at if mine else None
        rows.append(HandInRow(student, work_status(a.due_at, at, closed, now), at, len(mine),
                              sid in targeted, feedback.get(sid), mine))
    rows.sort(key=lambda r: (not r.targeted, r.student.full_name, r.student.username))
    return a, rows


def file_for(s: Session, store: BlobStore, user: User, file_id: uuid.UUID
             ) -> tuple[SubmissionFile, Path]:
    """A handed-in file and its path, for the student who handed it in or a teacher of the
    class; NotFound for anyone else."""
    stmt = select(SubmissionFile).where(SubmissionFile.id == file_id,
                                        SubmissionFile.deleted.is_(False))
    if user.role is Role.STUDENT:
        stmt = stmt.where(SubmissionFile.student_id == user.id)
    else:
        stmt = stmt.join(Classroom, Classroom.id == SubmissionFile.classroom_id).where(
            taught_by(user))
    found = s.scalar(stmt)
    if found is None:
        raise NotFound(N_("This file does not exist or is not yours."))
    path = store.path(found.sha256)
    if not path.is_file():  # perhaps held as the smaller JPEG the sync made of a photo
        smaller = stored_form(s.connection(), found.sha256)
        path = store.path(smaller[0]) if smaller is not None else path
        if not path.is_file():
            raise NotFound(N_("This file has not reached this hub's storage (yet)."))
    return found, path
