"""Schools, users, classes, enrolments and groups."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ardoise.db import Base, Synced


class Role(enum.StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"  # the service centre's technician, or the school's


class School(Synced, Base):
    __tablename__ = "school"

    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(40), unique=True)


class User(Synced, Base):
    """Anyone who signs in. Students sign in with a picture code or a PIN, never a password."""

    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("school_id", "username"),)

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16,
                                            values_callable=lambda e: [m.value for m in e]))
    username: Mapped[str] = mapped_column(String(80))
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    picture_code_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    pin_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on password reset or "sign out everywhere": older session cookies stop working.
    auth_epoch: Mapped[int] = mapped_column(default=0)

    school: Mapped[School] = relationship()


class Classroom(Synced, Base):
    __tablename__ = "classroom"

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    grade: Mapped[str | None] = mapped_column(String(40), default=None)

    school: Mapped[School] = relationship()


class Enrollment(Synced, Base):
    """A student in a class, or a teacher teaching it."""

    __tablename__ = "enrollment"
    __table_args__ = (UniqueConstraint("classroom_id", "user_id"),)

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    classroom_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classroom.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16,
                                            values_callable=lambda e: [m.value for m in e]))

    classroom: Mapped[Classroom] = relationship()
    user: Mapped[User] = relationship()


class Group(Synced, Base):
    """A named subset of a class (reading group, team)."""

    __tablename__ = "learner_group"

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    classroom_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classroom.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))


class GroupMember(Synced, Base):
    __tablename__ = "learner_group_member"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    classroom_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classroom.id"))
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("learner_group.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
