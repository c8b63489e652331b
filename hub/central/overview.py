"""What the service centre's pages show and do: fleet, schools, publishing, submissions.

Library functions (Session in, plain values out); the pages in `hub.central.pages` only
render them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ardoise.errors import Invalid
from ardoise.i18n import N_
from hub.central.models import CentralHub, EnrollToken
from hub.models import (
    Assignment,
    AssignmentStatus,
    Classroom,
    Enrollment,
    Role,
    School,
    Submission,
    SubmissionFile,
    User,
)
from hub.sync_registry import registry
from sync import changes, vectors
from sync.scope import Scope


@dataclass
class HubRow:
    hub: CentralHub
    school: School | None
    pending: int
    health: dict[str, Any] = field(default_factory=dict)

    @property
    def disk_free_mb(self) -> int | None:
        free = (self.health.get("disk") or {}).get("free_bytes")
        return None if free is None else int(free // (1024 * 1024))

    @property
    def problems(self) -> list[str]:
        return list(self.health.get("problems") or [])


def hubs(s: Session) -> list[HubRow]:
    """Every enrolled hub, with its school, health and the rows it has not received yet."""
    conn = s.connection()
    out = []
    for hub in s.scalars(select(CentralHub).order_by(CentralHub.enrolled_at)):
        scope = Scope.parse(hub.scope)
        their = vectors.knowledge(conn, hub.instance_id, scope)
        pending = changes.count_unseen(conn, registry(), scope, their)
        try:
            health = json.loads(hub.health or "{}")
        except ValueError:
            health = {}
        out.append(HubRow(hub, s.get(School, hub.school_id), pending,
                          health if isinstance(health, dict) else {}))
    return out


@dataclass
class SchoolRow:
    school: School
    hubs: int
    last_sync_at: dt.datetime | None
    classes: int


def schools(s: Session) -> list[SchoolRow]:
    out = []
    for school in s.scalars(select(School).where(School.deleted.is_(False))
                            .order_by(School.name)):
        n, last = s.execute(select(func.count(CentralHub.id), func.max(CentralHub.last_sync_at))
                            .where(CentralHub.school_id == school.id,
                                   CentralHub.revoked_at.is_(None))).one()
        classes = s.scalar(select(func.count()).select_from(Classroom).where(
            Classroom.school_id == school.id, Classroom.deleted.is_(False)))
        out.append(SchoolRow(school, n, last, classes or 0))
    return out


def tokens(s: Session, limit: int = 50) -> list[EnrollToken]:
    return list(s.scalars(select(EnrollToken).order_by(EnrollToken.created_at.desc())
                          .limit(limit)))


def classes_by_school(s: Session) -> list[tuple[School, list[Classroom]]]:
    rows = s.execute(select(School, Classroom).join(Classroom, Classroom.school_id == School.id)
                     .where(School.deleted.is_(False), Classroom.deleted.is_(False))
                     .order_by(School.name, Classroom.name)).all()
    out: dict[uuid.UUID, tuple[School, list[Classroom]]] = {}
    for school, room in rows:
        out.setdefault(school.id, (school, []))[1].append(room)
    return list(out.values())


def publish(s: Session, class_ids: list[uuid.UUID], *, title: str, instructions: str = "",
            due_at: dt.datetime | None = None, now: dt.datetime | None = None
            ) -> list[Assignment]:
    """One published assignment in each chosen class, whatever its school.

    Each is authored in the name of a teacher of that class, because the hubs hold only
    their own school's people (a hub must be able to show who set the work).
    """
    title = (title or "").strip()
    if not title:
        raise Invalid(N_("Give the assignment a title."))
    if len(title) > 200:
        raise Invalid(N_("The title is too long (200 characters at most)."))
    if not class_ids:
        raise Invalid(N_("Choose at least one class."))
    now = now or dt.datetime.now(dt.UTC)
    made = []
    for cid in class_ids:
        room = s.get(Classroom, cid)
        if room is None or room.deleted:
            raise Invalid(N_("A chosen class no longer exists: reload the page."))
        teacher = s.scalars(select(User.id).join(Enrollment, Enrollment.user_id == User.id)
                            .where(Enrollment.classroom_id == cid,
                                   Enrollment.role == Role.TEACHER,
                                   Enrollment.deleted.is_(False), User.deleted.is_(False))
                            .limit(1)).first()
        if teacher is None:
            raise Invalid(N_("Class %(name)s has no teacher yet: it cannot receive an "
                             "assignment."), name=room.name)
        a = Assignment(school_id=room.school_id, classroom_id=cid, author_id=teacher,
                       title=title, instructions=instructions, due_at=due_at,
                       status=AssignmentStatus.PUBLISHED, published_at=now)
        s.add(a)
        made.append(a)
    s.flush()
    return made


@dataclass
class SubmissionRow:
    submission: Submission
    school: str
    classroom: str
    assignment: str
    student: str
    files: int


def submissions(s: Session, limit: int = 200) -> list[SubmissionRow]:
    """The latest hand-ins from every school."""
    files = (select(SubmissionFile.submission_id, func.count().label("n"))
             .group_by(SubmissionFile.submission_id).subquery())
    rows = s.execute(
        select(Submission, School.name, Classroom.name, Assignment.title, User.full_name,
               func.coalesce(files.c.n, 0))
        .join(School, School.id == Submission.school_id)
        .join(Classroom, Classroom.id == Submission.classroom_id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .join(User, User.id == Submission.student_id)
        .outerjoin(files, files.c.submission_id == Submission.id)
        .where(Submission.deleted.is_(False))
        .order_by(Submission.created_at.desc()).limit(limit)).all()
    return [SubmissionRow(*r) for r in rows]


__all__ = ["HubRow", "SchoolRow", "SubmissionRow", "classes_by_school", "hubs", "publish",
           "schools", "submissions", "tokens"]
