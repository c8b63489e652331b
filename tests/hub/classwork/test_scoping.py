"""Object-level scoping through the pages and the API: another student's work, another
teacher's class. Outside one's scope everything answers 404, as if it did not exist."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import AssignmentStatus, Group, SubmissionFile
from tests.factories import World, make_assignment, make_group, sign_in_as
from tests.hub.classwork import samples


@pytest.fixture
def app_config(data_dir: Path) -> dict[str, Any]:
    return {"TESTING": True, "data_dir": str(data_dir), "WTF_CSRF_ENABLED": False}


def hand_in_file(client: FlaskClient, student: Any, assignment_id: uuid.UUID,
                 session: Session) -> SubmissionFile:
    sign_in_as(client, student)
    r = client.post(f"/api/v1/assignments/{assignment_id}/submissions",
                    data={"text": "secret", "files": [(io.BytesIO(samples.PNG), "a.png")]},
                    content_type="multipart/form-data")
    assert r.status_code == 201
    return session.scalars(select(SubmissionFile).where(
        SubmissionFile.student_id == student.id)).one()


def statuses(client: FlaskClient, urls: list[str]) -> list[int]:
    out = []
    for url in urls:
        with client.get(url) as r:
            out.append(r.status_code)
    return out


def test_a_student_cannot_read_another_students_work(client: FlaskClient, app: Flask,
                                                     world: World, session: Session) -> None:
    a_student, b_student, _ = world.students
    a = make_assignment(app, world)
    only_a = make_assignment(app, world, "Pour A", students=(a_student,))
    f = hand_in_file(client, a_student, a.id, session)
    sign_in_as(client, b_student)
    assert statuses(client, [f"/student/files/{f.id}", f"/student/assignments/{only_a.id}",
                             f"/api/v1/assignments/{only_a.id}"]) == [404, 404, 404]
    # B sees the shared assignment, but only B's own (empty) work on it
    body = client.get(f"/api/v1/assignments/{a.id}").get_json()
    assert body["submissions"] == []
    assert "secret" not in client.get(f"/student/assignments/{a.id}").get_data(as_text=True)
    assert client.post(f"/api/v1/assignments/{only_a.id}/submissions",
                       data={"text": "x"}).status_code == 404
    # the teacher file route is not open to students at all
    assert statuses(client, [f"/teacher/files/{f.id}"]) == [403]
    sign_in_as(client, a_student)
    assert statuses(client, [f"/student/files/{f.id}"]) == [200]


def test_students_of_another_class_see_nothing(client: FlaskClient, app: Flask,
                                               world: World) -> None:
    a = make_assignment(app, world)
    draft = make_assignment(app, world, status=AssignmentStatus.DRAFT)
    sign_in_as(client, world.other_students[0])
    assert statuses(client, [f"/student/assignments/{a.id}", f"/api/v1/assignments/{a.id}",
                             f"/student/assignments/{draft.id}"]) == [404, 404, 404]
    assert client.get("/api/v1/me/assignments").get_json() == {"todo": [], "done": []}
    sign_in_as(client, world.students[0])
    assert statuses(client, [f"/student/assignments/{draft.id}"]) == [404]


def test_a_teacher_cannot_see_another_teachers_class(client: FlaskClient, app: Flask,
                                                     world: World, session: Session) -> None:
    a = make_assignment(app, world)
    f = hand_in_file(client, world.students[0], a.id, session)
    group = make_group(app, world.classroom, "G", (world.students[0],))
    c1 = world.classroom.id
    sign_in_as(client, world.other_teacher)
    pages = [f"/teacher/classes/{c1}/", f"/teacher/classes/{c1}/groups",
             f"/teacher/classes/{c1}/progress", f"/teacher/classes/{c1}/assignments/new",
             f"/teacher/assignments/{a.id}/", f"/teacher/assignments/{a.id}/edit",
             f"/teacher/assignments/{a.id}/students/{world.students[0].id}",
             f"/teacher/groups/{group.id}", f"/teacher/files/{f.id}",
             f"/api/v1/classes/{c1}/assignments", f"/api/v1/assignments/{a.id}",
             f"/api/v1/assignments/{a.id}/submissions"]
    assert statuses(client, pages) == [404] * len(pages)
    # unsafe calls too, and nothing changes
    assert client.patch(f"/api/v1/assignments/{a.id}", json={"title": "Pris"}
                        ).status_code == 404
    assert client.post(f"/api/v1/classes/{c1}/assignments", json={"title": "x"}
                       ).status_code == 404
    assert client.put(f"/api/v1/assignments/{a.id}/feedback/{world.students[0].id}",
                      json={"comment": "x"}).status_code == 404
    assert client.post(f"/teacher/assignments/{a.id}/status",
                       data={"status": "closed"}).status_code == 404
    assert client.post(f"/teacher/groups/{group.id}/members",
                       data={"student_id": str(world.other_students[0].id)}).status_code == 404
    assert client.post(f"/teacher/classes/{c1}/groups", data={"name": "Intrus"}
                       ).status_code == 404
    session.expire_all()
    assert session.scalars(select(Group.name)).all() == ["G"]
    # unknown ids answer the same as other teachers' ids
    assert statuses(client, [f"/teacher/classes/{uuid.uuid4()}/",
                             f"/teacher/assignments/{uuid.uuid4()}/"]) == [404, 404]
    # their own class works, and the admin of the school sees both
    assert statuses(client, [f"/teacher/classes/{world.other_classroom.id}/"]) == [200]
    sign_in_as(client, world.admin)
    assert statuses(client, [f"/teacher/assignments/{a.id}/", f"/teacher/files/{f.id}"]
                    ) == [200, 200]


def test_teacher_cannot_target_or_group_students_of_another_class(
        client: FlaskClient, app: Flask, world: World) -> None:
    sign_in_as(client, world.teacher)
    r = client.post(f"/api/v1/classes/{world.classroom.id}/assignments", json={
        "title": "x", "targets": {"students": [str(world.other_students[0].id)]}})
    assert r.status_code == 400 and r.get_json()["error"]["details"]["field"] == "students"
