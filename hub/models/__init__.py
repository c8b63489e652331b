"""The hub's user data: people and classes, assignments and student work.

Every table here syncs (see `ardoise.db.Synced`) and carries its scope: the school
always, and the class or the user where it applies. Logs (`Submission`,
`SubmissionFile`, `ProgressEvent`) are append-only: rows are added, never changed.
"""

from hub.models.people import Classroom, Enrollment, Group, GroupMember, Role, School, User
from hub.models.security import LoginAttempt
from hub.models.work import (
    Assignment,
    AssignmentResource,
    AssignmentStatus,
    AssignmentTarget,
    Feedback,
    ProgressEvent,
    ProgressKind,
    Submission,
    SubmissionFile,
)

__all__ = [
    "Assignment",
    "AssignmentResource",
    "AssignmentStatus",
    "AssignmentTarget",
    "Classroom",
    "Enrollment",
    "Feedback",
    "Group",
    "GroupMember",
    "LoginAttempt",
    "ProgressEvent",
    "ProgressKind",
    "Role",
    "School",
    "Submission",
    "SubmissionFile",
    "User",
]
