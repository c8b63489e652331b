"""The session over JSON: who is signed in, signing in (staff or student), signing out.

A client first GETs /api/v1/session for the CSRF token (and the session cookie it is bound
to), then POSTs with the header X-CSRFToken. Signing in starts a new session, so the answer
carries the new token to use from then on.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, g, jsonify, request
from flask_wtf.csrf import generate_csrf

from ardoise.errors import Invalid
from ardoise.i18n import N_
from hub import access, db, session_auth
from hub.api.registry import api, json_body
from hub.auth import Limits, authenticate_staff, authenticate_student, role_home
from hub.models import User

USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "username", "full_name", "role", "school_id", "home"],
    "properties": {"id": {"type": "string", "format": "uuid"}, "username": {"type": "string"},
                   "full_name": {"type": "string"}, "role": {"enum": ["student", "teacher",
                                                                       "admin"]},
                   "school_id": {"type": "string", "format": "uuid"},
                   "active": {"type": "boolean"},
                   "language": {"type": ["string", "null"]},
                   "home": {"type": "string", "description": "Page to open after sign-in."}},
}
SESSION_SCHEMA = {
    "type": "object", "required": ["user", "csrf_token"],
    "properties": {"user": {"oneOf": [USER_SCHEMA, {"type": "null"}]},
                   "csrf_token": {"type": "string"}},
}
SIGN_IN_SCHEMA = {
    "oneOf": [
        {"type": "object", "required": ["username", "password"],
         "properties": {"username": {"type": "string"}, "password": {"type": "string"},
                        "school": {"type": "string",
                                   "description": "School code, if usernames clash."}}},
        {"type": "object", "required": ["student_id", "code"],
         "properties": {"student_id": {"type": "string", "format": "uuid"},
                        "code": {"type": "string", "description":
                                 "Picture names joined by '-' (soleil-chat-lune-arbre) "
                                 "or the PIN's digits."}}},
    ],
}


def user_json(user: User) -> dict[str, Any]:
    return {"id": str(user.id), "username": user.username, "full_name": user.full_name,
            "role": str(user.role), "school_id": str(user.school_id), "active": user.active,
            "language": user.language, "home": role_home(user.role)}


def _session_body() -> dict[str, Any]:
    g.pop("csrf_token", None)  # the session may be new: make the token from it
    user = g.get("user")
    return {"user": user_json(user) if user is not None else None,
            "csrf_token": generate_csrf()}


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise Invalid(N_("The field %(field)s must be text."), field=name)
    return value


@api.route("/session", methods=("GET",), roles=access.PUBLIC, tags=("session",),
           summary="The signed-in user (or null) and the CSRF token for unsafe requests.",
           response_schema=SESSION_SCHEMA)
def session_get() -> Any:
    return jsonify(_session_body())


@api.route("/session", methods=("POST",), roles=access.PUBLIC, tags=("session",),
           summary="Sign in: staff with username and password, a student with their id and "
                   "code. 401 if wrong, 429 when too many failures.",
           request_schema=SIGN_IN_SCHEMA, response_schema=SESSION_SCHEMA)
def session_create() -> Any:
    body = json_body()
    limits = Limits.from_settings(current_app.extensions["ardoise.settings"])
    address = request.remote_addr
    if "student_id" in body:
        try:
            student_id = uuid.UUID(_text(body, "student_id"))
        except ValueError:
            raise Invalid(N_("The field student_id must be a student's id.")) from None
        user = authenticate_student(db.session(), student_id, _text(body, "code"),
                                    address=address, limits=limits)
    elif "username" in body:
        user = authenticate_staff(db.session(), _text(body, "username"),
                                  _text(body, "password"), address=address, limits=limits,
                                  school_code=_text(body, "school") or None)
    else:
        raise Invalid(N_("Send either username and password, or student_id and code."))
    session_auth.sign_in(user)
    return jsonify(_session_body())


@api.route("/session", methods=("DELETE",), roles=access.PUBLIC, tags=("session",),
           summary="Sign out (the answer carries a fresh CSRF token).",
           response_schema=SESSION_SCHEMA)
def session_delete() -> Any:
    session_auth.sign_out()
    return jsonify(_session_body())
