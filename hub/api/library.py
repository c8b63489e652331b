"""The library in JSON: list and search resources, one resource, and student progress."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request, url_for

from content_packs import (
    Resource,
    ResourceFile,
    check_filters,
    find_resources,
    get_resource,
    resource_files,
)
from hub import access, db, progress
from hub.api.registry import api, json_body
from hub.models import Role

_TEXT = {"type": "object", "properties": {"fr": {"type": "string"}, "en": {"type": "string"}}}
RESOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uid", "pack_id", "kind", "title", "language", "subjects", "cycles", "url",
                 "file_url"],
    "properties": {
        "uid": {"type": "string", "description": "Stable id: <pack_id>/<resource_id>."},
        "pack_id": {"type": "string"}, "pack_version": {"type": "string"},
        "kind": {"type": "string", "enum": ["html", "pdf", "image", "audio", "video",
                                            "document", "zim"]},
        "title": _TEXT, "description": _TEXT, "language": {"type": "string"},
        "subjects": {"type": "array", "items": {"type": "string"}},
        "cycles": {"type": "array", "items": {"type": "string"}},
        "duration_seconds": {"type": ["integer", "null"]},
        "media_type": {"type": "string"},
        "size": {"type": ["integer", "null"]},
        "url": {"type": "string", "description": "The resource's page."},
        "file_url": {"type": "string", "description": "The entry file (range requests)."},
    },
}
LIST_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["items", "total", "limit", "offset"],
    "properties": {"items": {"type": "array", "items": RESOURCE_SCHEMA},
                   "total": {"type": "integer"}, "limit": {"type": "integer"},
                   "offset": {"type": "integer"}, "q": {"type": "string"}},
}
PROGRESS_REQUEST: dict[str, Any] = {
    "type": "object", "required": ["resource_uid", "kind"],
    "properties": {"resource_uid": {"type": "string"},
                   "kind": {"type": "string", "enum": ["opened", "finished"]}},
}
PROGRESS_RESPONSE: dict[str, Any] = {
    "type": "object", "required": ["id", "resource_uid", "kind", "at"],
    "properties": {"id": {"type": "string"}, "resource_uid": {"type": "string"},
                   "kind": {"type": "string"}, "at": {"type": "string", "format": "date-time"}},
}


def resource_json(r: Resource, entry: ResourceFile | None = None) -> dict[str, Any]:
    return {
        "uid": r.uid, "pack_id": r.pack_id, "pack_version": r.pack_version, "kind": r.kind,
        "title": {"fr": r.title_fr, "en": r.title_en},
        "description": {"fr": r.description_fr, "en": r.description_en},
        "language": r.language, "subjects": r.subject_codes, "cycles": r.cycle_codes,
        "duration_seconds": r.duration_seconds, "media_type": r.media_type,
        "size": entry.size if entry is not None else None,
        "url": url_for("library.resource", uid=r.uid),
        "file_url": url_for("library.file", pack_id=r.pack_id, path=r.entry),
    }


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


@api.route("/library/resources", roles=access.SIGNED_IN, tags=("library",),
           summary="List the library's resources, filtered by subject, cycle, language and "
                   "kind; with q, a full-text search (best first).",
           response_schema=LIST_SCHEMA)
def library_resources() -> Any:
    args = request.args
    filters = check_filters(args.get("subject"), args.get("cycle"), args.get("language"),
                            args.get("kind"))
    page = find_resources(db.session(), args.get("q", ""), filters,
                          limit=_int_arg("limit", 50), offset=_int_arg("offset", 0))
    return jsonify(items=[resource_json(r) for r in page.items], total=page.total,
                   limit=page.limit, offset=page.offset, q=page.query)


@api.route("/library/resources/<path:uid>", roles=access.SIGNED_IN, tags=("library",),
           summary="One resource of the library, by its stable uid (pack/resource).",
           response_schema=RESOURCE_SCHEMA)
def library_resource(uid: str) -> Any:
    session = db.session()
    res = get_resource(session, uid)
    return jsonify(resource_json(res, resource_files(session, res).get(res.entry)))


@api.route("/progress", methods=("POST",), roles=(Role.STUDENT,), tags=("library",),
           summary="Record that the signed-in student opened or finished a resource "
                   "(repeats within a few minutes are not logged twice).",
           request_schema=PROGRESS_REQUEST, response_schema=PROGRESS_RESPONSE)
def progress_record() -> Any:
    body = json_body()
    session = db.session()
    event = progress.record_progress(session, g.user, str(body.get("resource_uid", "")),
                                     body.get("kind", ""))
    session.commit()
    return jsonify(id=str(event.id), resource_uid=event.resource_uid, kind=str(event.kind),
                   at=event.created_at.isoformat()), 201
