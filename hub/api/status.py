"""Public health endpoint and the OpenAPI document."""

from __future__ import annotations

import re
import time
from typing import Any

from flask import current_app, jsonify
from sqlalchemy import text

from hub import access, db
from hub.api.registry import api, openapi_path
from hub.device_status import cached_status
from hub.errors import error_body


@api.route("/status", roles=access.PUBLIC, summary="Version, role, uptime and health (public).",
           tags=("status",), response_schema={
               "type": "object", "required": ["version", "role", "uptime_seconds", "healthy"],
               "properties": {"version": {"type": "string"}, "role": {"type": "string"},
                              "uptime_seconds": {"type": "number"},
                              "healthy": {"type": "boolean"},
                              "device": {"type": ["object", "null"],
                                         "description": "Public part of the device status "
                                         "(state, problem codes, last sync); null when it "
                                         "cannot be sampled."}}})
def status() -> Any:
    healthy = True
    try:
        db.session().execute(text("SELECT 1"))
    except Exception:  # the status answers even when the database does not
        healthy = False
    started = current_app.extensions["ardoise.started"]
    try:
        device = cached_status().public_dict()
    except Exception:  # the status answers even when a device source does not
        current_app.logger.warning("device status unavailable", exc_info=True)
        device = None
    return jsonify(version=current_app.extensions["ardoise.version"],
                   role=current_app.extensions["ardoise.settings"].role,
                   uptime_seconds=round(time.monotonic() - started, 1),
                   healthy=healthy, device=device)


@api.route("/openapi.json", roles=access.PUBLIC, summary="This API, as an OpenAPI 3.1 document.",
           tags=("status",))
def openapi() -> Any:
    return jsonify(build_openapi())


ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["status", "code", "message",
                                                            "details"],
                             "properties": {"status": {"type": "integer"},
                                            "code": {"type": "string"},
                                            "message": {"type": "string"},
                                            "details": {"type": "object"}}}},
    "example": error_body(404, "not_found", "This page does not exist."),
}


def build_openapi() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in api.operations:
        path = openapi_path(api.blueprint.url_prefix + op.rule)  # type: ignore[operator]
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in re.findall(r"\{([^}]+)\}", path)]
        roles = op.roles if isinstance(op.roles, str) else sorted(str(r) for r in op.roles)
        entry: dict[str, Any] = {
            "summary": op.summary, "operationId": op.endpoint.replace(".", "_") + "_" + op.method,
            "tags": list(op.tags), "x-roles": roles, "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {
                    "schema": op.response_schema or {"type": "object"}}}},
                "default": {"description": "Error", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
        if op.request_schema is not None:
            entry["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": op.request_schema}}}
        paths.setdefault(path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ardoise hub API", "version": current_app.extensions["ardoise.version"],
                 "description": "Every error has the shape of components.schemas.Error. "
                                "Unsafe methods need the X-CSRFToken header from "
                                "/api/v1/session."},
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }
