"""The service centre's pages: hubs with health and pending rows, tokens, publishing to
several schools' classes, submissions from every school."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import create_app
from hub.central import fleet
from hub.db import database
from hub.models import Assignment, Classroom, Enrollment, Role, School, Submission, User
from tests.factories import make_world, sign_in_as


@pytest.fixture
def central_app(tmp_path: Path, migrated_db: Path) -> Iterator[Flask]:
    data = tmp_path / "c"
    data.mkdir()
    shutil.copy(migrated_db, data / "ardoise.db")
    app = create_app({"TESTING": True, "data_dir": str(data), "role": "central"})
    yield app
    database(app).engine.dispose()


def _second_school(app: Flask) -> Classroom:
    with database(app).sessions() as s:
        school = School(name="École des Îles", code="iles")
        s.add(school)
        s.flush()
        teacher = User(school_id=school.id, role=Role.TEACHER, username="t", full_name="T")
        room = Classroom(school_id=school.id, name="Multi-âge")
        s.add_all([teacher, room])
        s.flush()
        s.add(Enrollment(school_id=school.id, classroom_id=room.id, user_id=teacher.id,
                         role=Role.TEACHER))
        s.commit()
        return room


def test_publish_to_classes_of_two_schools(central_app: Flask) -> None:
    world = make_world(central_app, n_students=1)
    other = _second_school(central_app)
    client: FlaskClient = central_app.test_client()
    central_app.config["WTF_CSRF_ENABLED"] = False
    sign_in_as(client, world.teacher)
    r = client.post("/central/publish", data={
        "title": "Défi inter-écoles", "instructions": "Ensemble",
        "classroom_id": [str(world.classroom.id), str(other.id)]})
    assert r.status_code == 302
    with database(central_app).sessions() as s:
        made = s.scalars(select(Assignment).where(Assignment.title == "Défi inter-écoles")).all()
        assert {(a.school_id, a.classroom_id) for a in made} == {
            (world.school.id, world.classroom.id), (other.school_id, other.id)}
        assert all(a.sync_instance is not None for a in made)  # captured: they will sync
    r = client.post("/central/publish", data={"title": "", "classroom_id": [str(other.id)]})
    assert r.status_code == 200 and "title" in r.get_data(as_text=True).lower()


def test_hubs_tokens_and_submissions_pages(central_app: Flask) -> None:
    world = make_world(central_app, n_students=1)
    client = central_app.test_client()
    central_app.config["WTF_CSRF_ENABLED"] = False
    sign_in_as(client, world.admin)
    r = client.post("/central/tokens", data={"school_id": str(world.school.id), "note": "Pi"},
                    headers={"Accept-Language": "en"})
    assert r.status_code == 200 and "<code>" in r.get_data(as_text=True)
    with database(central_app).sessions() as s:
        token = fleet.create_token(s, world.school.id)
        fleet.enroll(s, token, "A" * 43 + "=", "0190a0f0-0000-7000-8000-000000000001", "Pi 1")
        a = Assignment(school_id=world.school.id, classroom_id=world.classroom.id,
                       author_id=world.teacher.id, title="Lecture")
        s.add(a)
        s.flush()
        s.add(Submission(school_id=world.school.id, classroom_id=world.classroom.id,
                         assignment_id=a.id, student_id=world.students[0].id, text="x"))
        s.commit()
    page = client.get("/central/").get_data(as_text=True)
    assert "Pi 1" in page and "École du Littoral" in page
    assert "Lecture" in client.get("/central/submissions").get_data(as_text=True)
    sign_in_as(client, world.teacher)
    assert client.get("/central/").status_code == 403


def test_central_pages_do_not_exist_on_a_hub(app: Flask, client: FlaskClient) -> None:
    world = make_world(app, n_students=1)
    sign_in_as(client, world.admin)
    assert client.get("/central/").status_code == 404
