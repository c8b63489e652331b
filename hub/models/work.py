"""Assignments, student work, feedback and progress."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ardoise.db import Base, Synced


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class AssignmentStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"


class Assignment(Synced, Base):
    __tablename__ = "assignment"

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    classroom_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classroom.id"), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    status: Mapped[AssignmentStatus] = mapped_column(_enum(AssignmentStatus),
                                                     default=AssignmentStatus.DRAFT)
    published_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    targets: Mapped[list[AssignmentTarget]] = relationship(back_populates="assignment")
    resources: Mapped[list[AssignmentResource]] = relationship(
        back_populates="assignment", order_by="AssignmentResource.position")


class AssignmentTarget(Synced, Base):
    """Who an assignment is for: a group or a named student. No target: the whole class."""

    __tablename__ = "assignment_target"

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    classroom_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classroom.id"))
    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assignment.id"), index=True)
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("learner_group.id"),
                                                       default=None)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"),
                                                      default=None, index=True)

    assignment: Mapped[Assignment] = relationship(back_populates="targets")


class AssignmentResource(Synced, Base):
    """A library resource attached to an assignment, by its stable id ("pack/resource")."""

    __tablename__ = "assignment_resource"

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    classroom_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classroom.id"))
    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assignment.id"), index=True)
    resource_uid: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(default=0)

    assignment: Mapped[Assignment] = relationship(back_populates="resources")


class Submission(Synced, Base):
    """One hand-in of a student for an assignment. Append-only: handing in again adds a row."""

    __tablename__ = "submission"
    __table_args__ = (Index("ix_submission_assignment_student", "assignment_id", "student_id"),)

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    classroom_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classroom.id"))
    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assignment.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")

    files: Mapped[list[SubmissionFile]] = relationship(back_populates="submission")


class SubmissionFile(Synced, Base):
    """A file handed in, stored once by content hash under data_dir/blobs/."""

    __tablename__ = "submission_file"

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    classroom_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classroom.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submission.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]

    submission: Mapped[Submission] = relationship(back_populates="files")


class Feedback(Synced, Base):
    """A teacher's comment and mark on a student's work for an assignment (editable)."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_assignment_student", "assignment_id", "student_id"),)

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    classroom_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classroom.id"))
    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assignment.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    teacher_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    submission_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("submission.id"),
                                                            default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    mark: Mapped[str | None] = mapped_column(String(20), default=None)
    updated_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ProgressKind(enum.StrEnum):
    OPENED = "opened"
    FINISHED = "finished"


class ProgressEvent(Synced, Base):
    """A student opened or finished a resource. Append-only log."""

    __tablename__ = "progress_event"
    __table_args__ = (Index("ix_progress_user_resource", "user_id", "resource_uid"),)

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    classroom_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("classroom.id"),
                                                           default=None)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    resource_uid: Mapped[str] = mapped_column(String(300))
    kind: Mapped[ProgressKind] = mapped_column(_enum(ProgressKind))
