"""The hub's sync page speaks plain words and offers "Sync now" to teachers."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ardoise import device
from hub.db import database
from tests.factories import make_world, sign_in_as


def test_teacher_sees_state_and_can_ask_for_a_sync(app: Flask, client: FlaskClient) -> None:
    world = make_world(app, n_students=1)
    sign_in_as(client, world.teacher)
    page = client.get("/sync", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "sync enroll" in html and 'name="csrf_token"' in html
    app.config["WTF_CSRF_ENABLED"] = False
    client.post("/device/sync-now", data={"next": "/sync"})
    with database(app).sessions() as s:
        pending = s.scalars(select(device.DeviceRequest)).all()
        assert [r.kind for r in pending] == [device.SYNC_NOW]
    sign_in_as(client, world.students[0])
    assert client.get("/sync").status_code == 403
