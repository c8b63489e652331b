"""Classwork in JSON: a student's assignments and hand-ins, a teacher's assignments,
hand-ins and feedback. Scoping is done by `hub.classwork`; this module translates JSON."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, g, jsonify, request, url_for

from ardoise.errors import Invalid
from ardoise.i18n import N_
from hub import db
from hub.api.registry import api, json_body
from hub.classwork import assignments as work
from hub.classwork import resources as library
from hub.classwork.dates import iso, parse_iso
from hub.classwork.feedback import save_feedback
from hub.classwork.submissions import (
    FileView,
    SubmissionView,
    class_work,
    hand_in,
    my_work,
)
from hub.classwork.visibility import assignment_for_staff, class_for_staff
from hub.classwork.web import blob_store, locale, max_upload_bytes, uploads_from_request
from hub.classwork.worklist import WorkItem, worklist
from hub.models import Assignment, Feedback, Role

STAFF = (Role.TEACHER, Role.ADMIN)
TAGS = ("classwork",)

# -- schemas --------------------------------------------------------------------------

_ID = {"type": "string", "format": "uuid"}
_WHEN = {"type": ["string", "null"], "format": "date-time"}
WORK_STATUS = ["todo", "overdue", "handed_in", "late", "missed"]
WORK_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "due_at", "status", "handed_in_at", "closed", "has_feedback"],
    "properties": {"id": _ID, "title": {"type": "string"}, "due_at": _WHEN,
                   "status": {"type": "string", "enum": WORK_STATUS},
                   "handed_in_at": _WHEN, "closed": {"type": "boolean"},
                   "has_feedback": {"type": "boolean"}},
}
WORKLIST: dict[str, Any] = {
    "type": "object", "required": ["todo", "done"],
    "properties": {"todo": {"type": "array", "items": WORK_ITEM},
                   "done": {"type": "array", "items": WORK_ITEM}},
}
FILE: dict[str, Any] = {
    "type": "object", "properties": {"id": _ID, "filename": {"type": "string"},
                                     "media_type": {"type": "string"},
                                     "size": {"type": "integer"}, "url": {"type": "string"}}}
SUBMISSION: dict[str, Any] = {
    "type": "object", "properties": {"id": _ID, "text": {"type": "string"},
                                     "handed_in_at": _WHEN, "late": {"type": "boolean"},
                                     "files": {"type": "array", "items": FILE}}}
FEEDBACK: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {"comment": {"type": "string"}, "mark": {"type": ["string", "null"]},
                   "updated_at": _WHEN}}
TARGETS: dict[str, Any] = {
    "type": "object", "description": "Empty lists (or no targets): the whole class.",
    "properties": {"groups": {"type": "array", "items": _ID},
                   "students": {"type": "array", "items": _ID}}}
ASSIGNMENT_FIELDS: dict[str, Any] = {
    "title": {"type": "string", "maxLength": work.TITLE_MAX},
    "instructions": {"type": "string"},
    "due_at": {**_WHEN, "description": "ISO 8601 with an offset, e.g. 2026-03-14T15:00:00-04:00"},
    "resources": {"type": "array", "items": {"type": "string"},
                  "description": "Library resource uids (pack/resource)."},
    "targets": TARGETS,
    "status": {"type": "string", "enum": ["draft", "published", "closed"]},
}
ASSIGNMENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "instructions", "due_at", "status", "resources"],
    "properties": {"id": _ID, "classroom_id": _ID, **ASSIGNMENT_FIELDS,
                   "resources": {"type": "array", "items": {"type": "object"}},
                   "published_at": _WHEN, "closed_at": _WHEN,
                   "work_status": {"type": "string", "enum": WORK_STATUS},
                   "submissions": {"type": "array", "items": SUBMISSION},
                   "feedback": FEEDBACK},
}
CREATE: dict[str, Any] = {"type": "object", "required": ["title"],
                          "properties": ASSIGNMENT_FIELDS}
PATCH: dict[str, Any] = {"type": "object", "properties": ASSIGNMENT_FIELDS,
                         "description": "Only the fields given change. status moves draft -> "
                                        "published -> closed (-> published to reopen); "
                                        "any other move is 409."}
HAND_INS: dict[str, Any] = {
    "type": "object", "properties": {"assignment_id": _ID, "students": {"type": "array",
                                     "items": {"type": "object"}}}}
FEEDBACK_REQUEST: dict[str, Any] = {
    "type": "object", "properties": {"comment": {"type": "string"},
                                     "mark": {"type": ["string", "null"], "maxLength": 20}}}


# -- JSON shapes ----------------------------------------------------------------------

def work_item_json(item: WorkItem) -> dict[str, Any]:
    return {"id": str(item.id), "title": item.title, "due_at": iso(item.due_at),
            "status": str(item.status), "handed_in_at": iso(item.handed_in_at),
            "closed": item.closed, "has_feedback": item.has_feedback}


def file_json(f: FileView, endpoint: str) -> dict[str, Any]:
    return {"id": str(f.id), "filename": f.filename, "media_type": f.media_type,
            "size": f.size, "url": url_for(endpoint, file_id=f.id)}


def submission_json(sub: SubmissionView, endpoint: str) -> dict[str, Any]:
    return {"id": str(sub.id), "text": sub.text, "handed_in_at": iso(sub.handed_in_at),
            "late": sub.late, "files": [file_json(f, endpoint) for f in sub.files]}


def feedback_json(fb: Feedback | None) -> dict[str, Any] | None:
    if fb is None:
        return None
    return {"comment": fb.comment, "mark": fb.mark, "updated_at": iso(fb.updated_at)}


def _resources_json(uids: list[str]) -> list[dict[str, Any]]:
    return [{"uid": r.uid, "title": r.title, "available": r.available, "url": r.url}
            for r in library.describe(db.session(), uids, locale())]


def staff_assignment_json(a: Assignment) -> dict[str, Any]:
    s = db.session()
    targets = work.targets_of(s, a.id)
    return {"id": str(a.id), "classroom_id": str(a.classroom_id), "title": a.title,
            "instructions": a.instructions, "due_at": iso(a.due_at), "status": str(a.status),
            "published_at": iso(a.published_at), "closed_at": iso(a.closed_at),
            "targets": {"groups": [str(x) for x in targets.group_ids],
                        "students": [str(x) for x in targets.student_ids]},
            "resources": _resources_json(work.resource_uids(s, a.id))}


# -- request parsing ------------------------------------------------------------------

def _uuid_list(value: object, field: str) -> list[uuid.UUID]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(N_("%(field)s must be a list of ids."), field=field)
    out = []
    for item in value:
        try:
            out.append(uuid.UUID(str(item)))
        except ValueError:
            raise Invalid(N_("%(field)s: %(value)s is not a valid id."), field=field,
                          value=str(item)) from None
    return out


def _fields(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Library keyword arguments from a JSON body; unknown keys are refused by name."""
    unknown = sorted(set(body) - set(ASSIGNMENT_FIELDS))
    if unknown:
        raise Invalid(N_("Unknown field %(field)s."), field=unknown[0])
    out: dict[str, Any] = {}
    if "title" in body or not partial:
        out["title"] = body.get("title")
    for name in ("instructions", "status"):
        if name in body:
            out[name] = body[name]
    if "due_at" in body:
        out["due_at"] = parse_iso(body["due_at"])
    if "resources" in body:
        resources = body["resources"]
        if not isinstance(resources, list) or not all(isinstance(x, str) for x in resources):
            raise Invalid(N_("%(field)s must be a list of resource ids (pack/resource)."),
                          field="resources")
        out["resource_uids"] = resources
    if "targets" in body:
        targets = body["targets"] or {}
        if not isinstance(targets, dict):
            raise Invalid(N_("%(field)s must be an object with groups and students."),
                          field="targets")
        out["group_ids"] = _uuid_list(targets.get("groups"), "targets.groups")
        out["student_ids"] = _uuid_list(targets.get("students"), "targets.students")
    return out


# -- student --------------------------------------------------------------------------

@api.route("/me/assignments", roles=(Role.STUDENT,), tags=TAGS, response_schema=WORKLIST,
           summary="The signed-in student's assignments: to do (soonest due first) and done "
                   "(handed in or closed).")
def my_assignments() -> Any:
    wl = worklist(db.session(), g.user.id)
    return jsonify(todo=[work_item_json(i) for i in wl.todo],
                   done=[work_item_json(i) for i in wl.done])


@api.route("/assignments/<uuid:assignment_id>", roles=(Role.STUDENT, *STAFF), tags=TAGS,
           response_schema=ASSIGNMENT,
           summary="One assignment: for a student, with their own hand-ins and feedback; for "
                   "a teacher of the class, with its targets.")
def get_assignment(assignment_id: uuid.UUID) -> Any:
    s = db.session()
    if g.user.role is Role.STUDENT:
        view = my_work(s, g.user, assignment_id)
        a = view.assignment
        return jsonify({"id": str(a.id), "title": a.title, "instructions": a.instructions,
                        "due_at": iso(a.due_at), "status": str(a.status),
                        "can_hand_in": view.can_hand_in,
                        "resources": _resources_json(view.resource_uids),
                        "work_status": str(view.work.status),
                        "submissions": [submission_json(x, "student.work_file")
                                        for x in view.work.submissions],
                        "feedback": feedback_json(view.work.feedback)})
    return jsonify(staff_assignment_json(assignment_for_staff(s, g.user, assignment_id)))


@api.route("/assignments/<uuid:assignment_id>/submissions", methods=("POST",),
           roles=(Role.STUDENT,), tags=TAGS, response_schema=SUBMISSION,
           summary="Hand in work (multipart/form-data: `text` and any number of `files`). "
                   "Each file is checked by content (photos, sound recordings, PDF: else 415) "
                   "and size (upload_max_mb: else 413); all is saved or nothing is.")
def post_submission(assignment_id: uuid.UUID) -> Any:
    sub = hand_in(db.session(), blob_store(), g.user, assignment_id,
                  text=request.form.get("text", ""), uploads=uploads_from_request(),
                  max_bytes=max_upload_bytes())
    view = my_work(db.session(), g.user, assignment_id)
    latest = next(x for x in view.work.submissions if x.id == sub.id)
    return jsonify(submission_json(latest, "student.work_file")), 201


# -- teacher --------------------------------------------------------------------------

@api.route("/classes/<uuid:classroom_id>/assignments", roles=STAFF, tags=TAGS,
           response_schema={"type": "object", "properties": {"items": {"type": "array"}}},
           summary="A class's assignments (newest first) with hand-in counts.")
def list_assignments(classroom_id: uuid.UUID) -> Any:
    items = work.list_for_class(db.session(), g.user, classroom_id)
    return jsonify(items=[{
        "id": str(x.assignment.id), "title": x.assignment.title,
        "due_at": iso(x.assignment.due_at), "status": str(x.assignment.status),
        "published_at": iso(x.assignment.published_at),
        "closed_at": iso(x.assignment.closed_at), "targeted": x.targeted,
        "handed_in": x.handed_in} for x in items])


@api.route("/classes/<uuid:classroom_id>/assignments", methods=("POST",), roles=STAFF,
           tags=TAGS, request_schema=CREATE, response_schema=ASSIGNMENT,
           summary="Write an assignment for a class (a draft unless status is published).")
def create_assignment(classroom_id: uuid.UUID) -> Any:
    s = db.session()
    class_for_staff(s, g.user, classroom_id)
    a = work.create_assignment(s, g.user, classroom_id, **_fields(json_body(), partial=False))
    response: Response = jsonify(staff_assignment_json(a))
    response.headers["Location"] = url_for("api.get_assignment", assignment_id=a.id)
    return response, 201


@api.route("/assignments/<uuid:assignment_id>", methods=("PATCH",), roles=STAFF, tags=TAGS,
           request_schema=PATCH, response_schema=ASSIGNMENT,
           summary="Change an assignment's fields and/or status (409 on a move the life "
                   "cycle does not allow).")
def patch_assignment(assignment_id: uuid.UUID) -> Any:
    s = db.session()
    assignment_for_staff(s, g.user, assignment_id)
    a = work.update_assignment(s, g.user, assignment_id, **_fields(json_body(), partial=True))
    return jsonify(staff_assignment_json(a))


@api.route("/assignments/<uuid:assignment_id>/submissions", roles=STAFF, tags=TAGS,
           response_schema=HAND_INS,
           summary="Who handed in: each targeted student's status, hand-ins and feedback.")
def list_submissions(assignment_id: uuid.UUID) -> Any:
    a, rows = class_work(db.session(), g.user, assignment_id)
    return jsonify(assignment_id=str(a.id), students=[{
        "student": {"id": str(r.student.id), "full_name": r.student.full_name},
        "targeted": r.targeted, "status": str(r.status), "handed_in_at": iso(r.handed_in_at),
        "submissions": [submission_json(x, "teacher.work_file") for x in r.submissions],
        "feedback": feedback_json(r.feedback)} for r in rows])


@api.route("/assignments/<uuid:assignment_id>/feedback/<uuid:student_id>", methods=("PUT",),
           roles=STAFF, tags=TAGS, request_schema=FEEDBACK_REQUEST, response_schema=FEEDBACK,
           summary="Write or rewrite the feedback (comment and mark) on a student's work.")
def put_feedback(assignment_id: uuid.UUID, student_id: uuid.UUID) -> Any:
    body = json_body()
    unknown = sorted(set(body) - {"comment", "mark"})
    if unknown:
        raise Invalid(N_("Unknown field %(field)s."), field=unknown[0])
    fb = save_feedback(db.session(), g.user, assignment_id, student_id,
                       comment=body.get("comment", ""), mark=body.get("mark"))
    return jsonify(feedback_json(fb))
