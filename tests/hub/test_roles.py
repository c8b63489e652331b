"""The role matrix: every route of the app, opened by every role.

Routes declare their policy with hub.access; this test proves the declarations are
enforced (a refused role gets 401/403 or is sent to sign in) and that no route was
forgotten (an undeclared route is refused to everyone).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub import access
from hub.models import Role
from tests.factories import make_world, sign_in_as

ROLES: list[Role | None] = [None, Role.STUDENT, Role.TEACHER, Role.ADMIN]


def _fill(rule: Any) -> str:
    values = {}
    for name, conv in rule._converters.items():
        kind = type(conv).__name__
        values[name] = uuid.uuid4() if kind == "UUIDConverter" else (
            1 if kind in ("IntegerConverter",) else "x")
    return rule.build(values, append_unknown=False)[1]


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, _fill(rule)))
    return out


def test_every_route_declares_who_may_open_it(app: Flask) -> None:
    with app.test_request_context():
        missing = [e for e, _m, _u in _routes(app) if access.policy_of(e) is None]
    assert missing == []


@pytest.mark.parametrize("role", ROLES, ids=lambda r: str(r or "anonymous"))
def test_role_matrix(app: Flask, client: FlaskClient, role: Role | None) -> None:
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests; here only roles matter
    world = make_world(app, n_students=1)
    if role is not None:
        sign_in_as(client, world.by_role(role))
    checked = 0
    for endpoint, method, url in _routes(app):
        with app.test_request_context():
            policy = access.policy_of(endpoint)
        allowed = policy == access.PUBLIC or (role is not None and (
            policy == access.SIGNED_IN or role in policy))  # type: ignore[operator]
        r = client.open(url, method=method)
        refused = r.status_code in (401, 403) or (
            r.status_code == 302 and "/signin" in r.headers.get("Location", "")
            and endpoint != "auth.sign_out")
        if allowed:
            assert r.status_code not in (401, 403), (role, endpoint, method, r.status_code)
        else:
            assert refused, (role, endpoint, method, r.status_code)
        checked += 1
        if role is not None:  # some routes sign out: sign in again for the next one
            sign_in_as(client, world.by_role(role))
    assert checked >= 3
