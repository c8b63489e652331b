"""Every error of the JSON API has the one shape, whatever raised it.

Walks every operation in the API registry and provokes the errors any client can meet:
not signed in (or wrong role), malformed JSON, an unknown id; plus the framework's own
404/405. Each answer must be {"error": {"status", "code", "message", "details"}}.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from hub import access
from hub.api import api
from hub.api.registry import openapi_path
from hub.models import Role
from tests.factories import make_world, sign_in_as


def assert_shape(r: Any, status: int | None = None) -> None:
    body = r.get_json()
    assert body is not None, (r.request.path, r.status_code, r.data[:200])
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"status", "code", "message", "details"}, err
    assert err["status"] == r.status_code
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], dict)
    if status is not None:
        assert r.status_code == status, (r.request.path, r.status_code, body)


def _url(rule: str) -> str:
    """Fill converters with a fresh uuid (or a made-up path) so the route matches."""
    return "/api/v1" + re.sub(
        r"<(?:([^:<>]+):)?([^<>]+)>",
        lambda m: str(uuid.uuid4()) if m.group(1) == "uuid" else "inconnu/ressource", rule)


def test_refusals_have_the_shape(app: Flask, client: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    world = make_world(app, n_students=1)
    seen = 0
    for op in api.operations:
        if op.roles == access.PUBLIC:
            continue
        r = client.open(_url(op.rule), method=op.method.upper())
        assert_shape(r, 401)
        if isinstance(op.roles, frozenset):
            outsider = next((role for role in (Role.STUDENT, Role.TEACHER, Role.ADMIN)
                             if role not in op.roles), None)
            if outsider is not None:
                sign_in_as(client, world.by_role(outsider))
                assert_shape(client.open(_url(op.rule), method=op.method.upper()), 403)
                client.delete_cookie("ardoise_session")
        seen += 1
    assert seen >= 10


def test_malformed_json_has_the_shape(app: Flask, client: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    world = make_world(app, n_students=1)
    checked = 0
    for op in api.operations:
        if op.request_schema is None or op.method not in ("post", "put", "patch"):
            continue
        roles = op.roles if isinstance(op.roles, frozenset) else frozenset(Role)
        user = world.by_role(next(iter(sorted(roles))))
        sign_in_as(client, user)
        r = client.open(_url(op.rule), method=op.method.upper(), data="{not json",
                        content_type="application/json")
        assert_shape(r)
        assert r.status_code in (400, 404), (op.rule, r.status_code)
        checked += 1
        client.delete_cookie("ardoise_session")
    assert checked >= 3


def test_framework_errors_have_the_shape(client: FlaskClient) -> None:
    assert_shape(client.get("/api/v1/no/such/thing"), 404)
    assert_shape(client.delete("/api/v1/status"), 405)


def test_missing_csrf_has_the_shape(client: FlaskClient) -> None:
    r = client.post("/api/v1/session", json={"username": "x", "password": "y"})
    assert_shape(r, 400)
    assert r.get_json()["error"]["code"] == "csrf_failed"


def test_every_documented_operation_exists(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert len(documented) == len(api.operations)
    for op in api.operations:
        assert "default" in doc["paths"][_openapi(op.rule)][op.method]["responses"]


def _openapi(rule: str) -> str:
    return openapi_path("/api/v1" + rule)
