"""Which of the hub's tables sync, and how (the sync engine knows nothing of classes).

Logs (submissions, their files, progress) never conflict. Mutable rows merge field by
field. Update versus delete (docs/sync.md explains each choice):

- delete wins: schools, users, classes, enrolments, groups and their members, assignment
  targets. Removing a person or a class from a roster is a decision a stale edit made
  elsewhere must not undo; the edit is kept in the tombstone and the audit.
- latest wins: assignments, their resources, feedback. A teacher who edits an assignment
  or a feedback after someone else deleted it (or the reverse) gets the later action.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ardoise.db import Base, Synced
from hub.models import (
    Assignment,
    AssignmentResource,
    AssignmentTarget,
    Classroom,
    Enrollment,
    Feedback,
    Group,
    GroupMember,
    ProgressEvent,
    School,
    Submission,
    SubmissionFile,
    User,
)
from sync import agent as sync_agent
from sync import capture
from sync.registry import DeleteRule, Kind, Registry

LATEST = DeleteRule.LATEST_WINS


@cache
def registry() -> Registry:
    reg = Registry()
    reg.add(School, school_column="id", natural_keys=(("code",),))
    reg.add(User, natural_keys=(("school_id", "username"),))
    reg.add(Classroom)
    reg.add(Enrollment, classroom_column="classroom_id",
            natural_keys=(("classroom_id", "user_id"),))
    reg.add(Group, classroom_column="classroom_id")
    reg.add(GroupMember, classroom_column="classroom_id",
            natural_keys=(("group_id", "user_id"),))
    reg.add(Assignment, classroom_column="classroom_id", delete_rule=LATEST)
    reg.add(AssignmentTarget, classroom_column="classroom_id")
    reg.add(AssignmentResource, classroom_column="classroom_id", delete_rule=LATEST)
    reg.add(Submission, classroom_column="classroom_id", kind=Kind.LOG)
    reg.add(SubmissionFile, classroom_column="classroom_id", kind=Kind.LOG,
            blob_column="sha256")
    reg.add(Feedback, classroom_column="classroom_id", delete_rule=LATEST)
    reg.add(ProgressEvent, classroom_column="classroom_id", kind=Kind.LOG)
    return reg


def synced_tables_of_models() -> set[str]:
    """Every table whose model inherits Synced (a test checks they are all declared)."""
    return {m.local_table.name for m in Base.registry.mappers  # type: ignore[attr-defined]
            if issubclass(m.class_, Synced)}




def find_central() -> str | None:
    """A central announcing itself on the local network (a hub carried to the service
    centre's office syncs there)."""
    from hardware import discovery  # zeroconf: only the agent looks, not the web process

    for seen in discovery.discover(3.0):
        if seen.role == "central" and seen.url:
            return seen.url.rstrip("/")
    return None


sync_agent.use_registry(registry)
sync_agent.use_finder(find_central)


def install_capture(target: Any) -> Any:
    """Capture changes of the synced tables made through `target` (an engine or a
    sessionmaker). The hub's code filters tombstones itself, so they stay visible."""
    return capture.install(target, registry(), hide_tombstones=False)


__all__ = ["install_capture", "registry", "synced_tables_of_models"]
