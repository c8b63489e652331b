"""People and classes: schools, classes, enrolments, accounts and class-list imports.

Every function takes a SQLAlchemy `Session` and plain values, flushes but never commits
(the caller owns the transaction), and raises `ArdoiseError`s with translatable messages.
Object-level rules live here too: `managed_classroom` says whether a user may manage a
class, `get_user(..., school=...)` keeps administrators inside their school.
"""

from hub.people.accounts import (
    Issued,
    change_password,
    create_user,
    deactivate,
    find_user,
    get_user,
    list_users,
    parse_role,
    reactivate,
    reset_class_codes,
    reset_code,
    reset_password,
    reset_secret,
    set_password,
    set_pin,
)
from hub.people.csv_import import ImportReport, Rejected, codes_csv, import_csv
from hub.people.names import display_names, short_name, username_base
from hub.people.schools import (
    classes_of,
    create_classroom,
    create_school,
    enroll,
    find_classroom,
    get_classroom,
    get_school,
    list_classrooms,
    list_schools,
    managed_classroom,
    picker_entries,
    students_of,
    teachers_classes,
    teachers_of,
    unenroll,
)

__all__ = [
    "ImportReport",
    "Issued",
    "Rejected",
    "change_password",
    "classes_of",
    "codes_csv",
    "create_classroom",
    "create_school",
    "create_user",
    "deactivate",
    "display_names",
    "enroll",
    "find_classroom",
    "find_user",
    "get_classroom",
    "get_school",
    "get_user",
    "import_csv",
    "list_classrooms",
    "list_schools",
    "list_users",
    "managed_classroom",
    "parse_role",
    "picker_entries",
    "reactivate",
    "reset_class_codes",
    "reset_code",
    "reset_password",
    "reset_secret",
    "set_password",
    "set_pin",
    "short_name",
    "students_of",
    "teachers_classes",
    "teachers_of",
    "unenroll",
    "username_base",
]
