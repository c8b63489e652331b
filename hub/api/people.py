"""Classes and students for the sign-in picker (public), and users for administrators."""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, jsonify, request

from ardoise.errors import Invalid, NotFound
from ardoise.i18n import N_
from hub import access, db, people
from hub.api.auth import USER_SCHEMA, user_json
from hub.api.registry import api, json_body
from hub.models import Classroom, Role

CLASSES_SCHEMA = {
    "type": "object", "required": ["classes"],
    "properties": {"classes": {"type": "array", "items": {
        "type": "object", "required": ["id", "name"],
        "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"},
                       "grade": {"type": ["string", "null"]}}}}},
}
STUDENTS_SCHEMA = {
    "type": "object", "required": ["students"],
    "properties": {"students": {"type": "array", "items": {
        "type": "object", "required": ["id", "name", "code_kind"],
        "properties": {"id": {"type": "string", "format": "uuid"},
                       "name": {"type": "string",
                                "description": "First name and initial of the last name, "
                                               "longer only where two would look alike."},
                       "code_kind": {"enum": ["picture", "pin", None]}}}}},
}
USERS_SCHEMA = {"type": "object", "required": ["users"],
                "properties": {"users": {"type": "array", "items": USER_SCHEMA}}}
NEW_USER_SCHEMA = {
    "type": "object", "required": ["full_name", "role"],
    "properties": {"full_name": {"type": "string"},
                   "role": {"enum": ["student", "teacher", "admin"]},
                   "username": {"type": "string"},
                   "classroom_id": {"type": "string", "format": "uuid"},
                   "pin": {"type": "string", "description": "Students only: 4 to 8 digits."}},
}
ISSUED_SCHEMA = {
    "type": "object", "required": ["user", "secret", "kind"],
    "properties": {"user": USER_SCHEMA,
                   "secret": {"type": "string", "description": "Shown once, never again."},
                   "kind": {"enum": ["password", "picture", "pin"]}},
}


@api.route("/classes", roles=access.PUBLIC, tags=("people",), response_schema=CLASSES_SCHEMA,
           summary="Every class of the hub, for the student sign-in picker (public).")
def people_classes() -> Any:
    rows = people.list_classrooms(db.session())
    return jsonify(classes=[{"id": str(c.id), "name": c.name, "grade": c.grade}
                            for c in rows])


@api.route("/classes/<uuid:classroom_id>/students", roles=access.PUBLIC, tags=("people",),
           response_schema=STUDENTS_SCHEMA,
           summary="The active students of a class, as shown on the picker (public).")
def people_class_students(classroom_id: uuid.UUID) -> Any:
    s = db.session()
    entries = people.picker_entries(s, people.get_classroom(s, classroom_id))
    return jsonify(students=[
        {"id": str(u.id), "name": name,
         "code_kind": "pin" if u.pin_hash else "picture" if u.picture_code_hash else None}
        for u, name in entries])


def _classroom(value: Any) -> Classroom | None:
    if value in (None, ""):
        return None
    try:
        classroom = people.get_classroom(db.session(), uuid.UUID(str(value)))
    except ValueError:
        raise Invalid(N_("This class does not exist.")) from None
    if classroom.school_id != g.user.school_id:
        raise NotFound(N_("This class does not exist."))
    return classroom


@api.route("/users", roles=(Role.ADMIN,), tags=("people",), response_schema=USERS_SCHEMA,
           summary="Users of the administrator's school; filters ?role= and ?class=<id>.")
def people_users_list() -> Any:
    rows = people.list_users(db.session(), g.user.school, role=request.args.get("role"),
                             classroom=_classroom(request.args.get("class")))
    return jsonify(users=[user_json(u) for u in rows])


@api.route("/users", methods=("POST",), roles=(Role.ADMIN,), tags=("people",),
           request_schema=NEW_USER_SCHEMA, response_schema=ISSUED_SCHEMA,
           summary="Create a user in the administrator's school; the answer holds the "
                   "generated password or code, shown this once.")
def people_users_create() -> Any:
    body = json_body()
    for name in ("full_name", "role", "username", "pin"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise Invalid(N_("The field %(field)s must be text."), field=name)
    s = db.session()
    issued = people.create_user(s, g.user.school, body.get("role") or "",
                                body.get("full_name") or "",
                                username=body.get("username") or None,
                                classroom=_classroom(body.get("classroom_id")),
                                pin=body.get("pin") or None)
    s.commit()
    return jsonify(user=user_json(issued.user), secret=issued.secret, kind=issued.kind), 201
