"""Classwork: assignments, groups, student hand-ins, files, feedback and progress.

The library behind the teacher and student pages and the classwork API. Every function
takes a SQLAlchemy `Session` and the acting `User`, and scopes by itself: a teacher
reaches only the classes they teach (an admin, their school's), a student only the
published assignments targeted at them and only their own work. Anything else is
NotFound, as if it did not exist.
"""

from hub.classwork.assignments import (
    AssignmentSummary,
    Targets,
    create_assignment,
    list_for_class,
    resource_uids,
    set_status,
    targets_of,
    update_assignment,
)
from hub.classwork.blobs import BlobStore, collect_orphans
from hub.classwork.feedback import feedback_for, save_feedback
from hub.classwork.filetypes import ACCEPT_ATTRIBUTE, ACCEPTED, sniff
from hub.classwork.groups import (
    add_member,
    create_group,
    get_group,
    list_groups,
    remove_member,
    rename_group,
)
from hub.classwork.progress_report import Cell, ProgressTable, class_progress
from hub.classwork.submissions import (
    AssignmentForStudent,
    HandInRow,
    StudentWork,
    Upload,
    class_work,
    file_for,
    hand_in,
    my_work,
    work_for_staff,
)
from hub.classwork.visibility import (
    assignment_for_staff,
    assignment_for_student,
    class_for_staff,
    teacher_classes,
    visible_to_student,
)
from hub.classwork.worklist import WorkItem, Worklist, WorkStatus, worklist

__all__ = [
    "ACCEPTED",
    "ACCEPT_ATTRIBUTE",
    "AssignmentForStudent",
    "AssignmentSummary",
    "BlobStore",
    "Cell",
    "HandInRow",
    "ProgressTable",
    "StudentWork",
    "Targets",
    "Upload",
    "WorkItem",
    "WorkStatus",
    "Worklist",
    "add_member",
    "assignment_for_staff",
    "assignment_for_student",
    "class_for_staff",
    "class_progress",
    "class_work",
    "collect_orphans",
    "create_assignment",
    "create_group",
    "feedback_for",
    "file_for",
    "get_group",
    "hand_in",
    "list_for_class",
    "list_groups",
    "my_work",
    "remove_member",
    "rename_group",
    "resource_uids",
    "save_feedback",
    "set_status",
    "sniff",
    "targets_of",
    "teacher_classes",
    "update_assignment",
    "visible_to_student",
    "work_for_staff",
    "worklist",
]
