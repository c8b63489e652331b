"""Recording what students open and finish in the library (the ProgressEvent log).

Events are append-only and sync to the central, so repeated ones are not written again
within a short window (a reload, the video's `ended` and the button pressed together):
the teacher's table needs "opened" and "finished", not every click.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.db import utcnow
from ardoise.errors import Forbidden, Invalid
from ardoise.i18n import N_
from content_packs.catalog import get_resource
from hub.models import Enrollment, ProgressEvent, ProgressKind, Role, User

REPEAT_WINDOW = dt.timedelta(minutes=10)


def parse_kind(kind: object) -> ProgressKind:
    """A progress kind from user input, or Invalid naming the accepted ones."""
    try:
        return ProgressKind(kind)
    except ValueError:
        raise Invalid(N_("Unknown progress kind %(kind)s: use opened or finished."),
                      kind=str(kind)[:40]) from None


def student_classroom(session: Session, user: User) -> uuid.UUID | None:
    """The class a student is enrolled in (the most recent enrolment if several)."""
    return session.scalars(select(Enrollment.classroom_id).where(
        Enrollment.user_id == user.id, Enrollment.role == Role.STUDENT,
        Enrollment.deleted.is_(False)).order_by(Enrollment.created_at.desc())).first()


def record_progress(session: Session, user: User, resource_uid: str,
                    kind: ProgressKind | str, *, now: dt.datetime | None = None
                    ) -> ProgressEvent:
    """Log that a student opened or finished a resource; flushes, the caller commits.

    Only students have progress (Forbidden otherwise); the resource must be in the
    library (NotFound). The same event within REPEAT_WINDOW is returned, not repeated.
    """
    kind = parse_kind(kind)
    if user.role != Role.STUDENT:
        raise Forbidden(N_("Only students record progress."))
    resource = get_resource(session, resource_uid)
    now = now or utcnow()
    recent = session.scalars(select(ProgressEvent).where(
        ProgressEvent.user_id == user.id, ProgressEvent.resource_uid == resource.uid,
        ProgressEvent.kind == kind, ProgressEvent.created_at >= now - REPEAT_WINDOW,
        ProgressEvent.deleted.is_(False)).order_by(ProgressEvent.created_at.desc())).first()
    if recent is not None:
        return recent
    event = ProgressEvent(school_id=user.school_id, classroom_id=student_classroom(session, user),
                          user_id=user.id, resource_uid=resource.uid, kind=kind,
                          created_at=now)
    session.add(event)
    session.flush()
    return event


def has_finished(session: Session, user: User, resource_uid: str) -> bool:
    """Whether the student has ever finished this resource (for the resource page)."""
    return session.scalars(select(ProgressEvent.id).where(
        ProgressEvent.user_id == user.id, ProgressEvent.resource_uid == resource_uid,
        ProgressEvent.kind == ProgressKind.FINISHED, ProgressEvent.deleted.is_(False))
    ).first() is not None


__all__ = ["REPEAT_WINDOW", "has_finished", "parse_kind", "record_progress",
           "student_classroom"]
