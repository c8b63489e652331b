"""The classwork JSON API: shapes, roles, status codes, the error shape, CSRF."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Assignment, AssignmentStatus, Submission, SubmissionFile
from tests.factories import World, csrf_token_of, make_assignment, make_group, sign_in_as
from tests.hub.classwork import samples
from tests.hub.classwork.conftest import QueryCounter


@pytest.fixture
def app_config(data_dir: Path) -> dict[str, Any]:
    # Most tests here check payloads; one test below checks CSRF with it switched on.
    return {"TESTING": True, "data_dir": str(data_dir), "WTF_CSRF_ENABLED": False,
            "upload_max_mb": 1}


def error_of(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    body = r.get_json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"status", "code", "message", "details"}
    assert err["status"] == status and err["code"] == code and err["message"]
    return err


def test_my_assignments(client: FlaskClient, app: Flask, world: World,
                        session: Session) -> None:
    due = dt.datetime(2030, 3, 14, 19, 0, tzinfo=dt.UTC)
    todo = make_assignment(app, world, "À faire", due_at=due)
    done = make_assignment(app, world, "Fait")
    make_assignment(app, world, "Brouillon", status=AssignmentStatus.DRAFT)
    make_assignment(app, world, "Autre classe", classroom=world.other_classroom)
    at = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    session.add(Submission(school_id=done.school_id, classroom_id=done.classroom_id,
                           assignment_id=done.id, student_id=world.students[0].id,
                           text="x", created_at=at))
    session.commit()
    sign_in_as(client, world.students[0])
    body = client.get("/api/v1/me/assignments").get_json()
    assert body == {
        "todo": [{"id": str(todo.id), "title": "À faire", "due_at": "2030-03-14T19:00:00Z",
                  "status": "todo", "handed_in_at": None, "closed": False,
                  "has_feedback": False}],
        "done": [{"id": str(done.id), "title": "Fait", "due_at": None, "status": "handed_in",
                  "handed_in_at": "2026-03-01T12:00:00Z", "closed": False,
                  "has_feedback": False}]}
    sign_in_as(client, world.teacher)
    error_of(client.get("/api/v1/me/assignments"), 403, "forbidden")


def test_my_assignments_is_two_queries_whatever_the_count(
        client: FlaskClient, app: Flask, world: World, count_queries: QueryCounter) -> None:
    group = make_group(app, world.classroom, "G", tuple(world.students))
    for i in range(2):
        make_assignment(app, world, f"A{i}")
    sign_in_as(client, world.students[0])
    client.get("/api/v1/me/assignments")
    count_queries.statements.clear()
    client.get("/api/v1/me/assignments")
    few = count_queries.count
    for i in range(15):
        make_assignment(app, world, f"B{i}", groups=(group,))
    count_queries.statements.clear()
    body = client.get("/api/v1/me/assignments").get_json()
    assert len(body["todo"]) == 17
    assert count_queries.count == few <= 2


def test_student_view_of_an_assignment(client: FlaskClient, app: Flask, world: World,
                                       resources: list[str]) -> None:
    a = make_assignment(app, world, "Lire", instructions="Lis.", resources=(resources[0],))
    sign_in_as(client, world.students[0])
    r = client.post(f"/api/v1/assignments/{a.id}/submissions",
                    data={"text": "Lu", "files": [(io.BytesIO(samples.JPEG), "p.jpg")]},
                    content_type="multipart/form-data")
    assert r.status_code == 201
    sub = r.get_json()
    assert sub["text"] == "Lu" and sub["late"] is False
    assert sub["files"][0]["media_type"] == "image/jpeg"
    assert sub["files"][0]["url"] == f"/student/files/{sub['files'][0]['id']}"
    body = client.get(f"/api/v1/assignments/{a.id}").get_json()
    assert body["title"] == "Lire" and body["instructions"] == "Lis."
    assert body["can_hand_in"] is True and body["work_status"] == "handed_in"
    assert body["resources"] == [{"uid": resources[0], "title": "Les fractions",
                                  "available": True, "url": "/library/r/maths/fractions"}]
    assert [s["id"] for s in body["submissions"]] == [sub["id"]]
    assert body["feedback"] is None
    assert "targets" not in body  # students do not see who else it is for


def test_hand_in_errors(client: FlaskClient, app: Flask, world: World,
                        session: Session) -> None:
    a = make_assignment(app, world)
    sign_in_as(client, world.students[0])
    url = f"/api/v1/assignments/{a.id}/submissions"
    err = error_of(client.post(url, data={"text": ""}), 400, "invalid")
    assert err["details"]["field"] == "text"
    err = error_of(client.post(url, data={"files": [(io.BytesIO(samples.TEXT), "a.jpg")]},
                               content_type="multipart/form-data"), 415, "unsupported_type")
    assert "JPEG" in err["message"] and "PDF" in err["message"]
    r = client.post(url, data={"files": [(io.BytesIO(samples.big_jpeg(1024 * 1024 + 1)),
                                          "big.jpg")]}, content_type="multipart/form-data")
    r.request.environ["wsgi.input"].close()  # the test client spools big bodies to a file
    err = error_of(r, 413, "too_large")
    assert err["details"]["limit_mb"] == 1 and "1 Mo" in err["message"]
    error_of(client.post(f"/api/v1/assignments/{uuid.uuid4()}/submissions",
                         data={"text": "x"}), 404, "not_found")
    closed = make_assignment(app, world, status=AssignmentStatus.CLOSED)
    error_of(client.post(f"/api/v1/assignments/{closed.id}/submissions",
                         data={"text": "x"}), 409, "conflict")
    assert session.scalar(select(func.count()).select_from(Submission)) == 0
    assert session.scalar(select(func.count()).select_from(SubmissionFile)) == 0


def test_teacher_creates_patches_and_lists(client: FlaskClient, world: World,
                                           session: Session, resources: list[str]) -> None:
    sign_in_as(client, world.teacher)
    url = f"/api/v1/classes/{world.classroom.id}/assignments"
    r = client.post(url, json={"title": "Fractions", "instructions": "Fais 1 à 10.",
                               "due_at": "2026-03-14T15:00:00-04:00",
                               "resources": [resources[0]],
                               "targets": {"students": [str(world.students[0].id)]}})
    assert r.status_code == 201
    created = r.get_json()
    assert r.headers["Location"] == f"/api/v1/assignments/{created['id']}"
    assert created["status"] == "draft" and created["due_at"] == "2026-03-14T19:00:00Z"
    assert created["targets"] == {"groups": [], "students": [str(world.students[0].id)]}
    assert created["resources"][0]["uid"] == resources[0]
    aid = created["id"]
    r = client.patch(f"/api/v1/assignments/{aid}", json={"status": "published",
                                                          "title": "Fractions (suite)"})
    assert r.status_code == 200
    assert r.get_json()["status"] == "published" and r.get_json()["published_at"]
    assert r.get_json()["title"] == "Fractions (suite)"
    assert r.get_json()["instructions"] == "Fais 1 à 10."  # untouched
    err = error_of(client.patch(f"/api/v1/assignments/{aid}", json={"status": "draft"}),
                   409, "conflict")
    assert err["details"]["field"] == "status" and err["details"]["current"] == "published"
    assert client.patch(f"/api/v1/assignments/{aid}", json={"status": "closed"}
                        ).get_json()["closed_at"]
    assert client.patch(f"/api/v1/assignments/{aid}", json={"targets": None}
                        ).get_json()["targets"] == {"groups": [], "students": []}
    items = client.get(url).get_json()["items"]
    assert [(i["id"], i["status"], i["targeted"], i["handed_in"]) for i in items] == [
        (aid, "closed", 3, 0)]
    assert client.get(f"/api/v1/assignments/{aid}").get_json()["classroom_id"] == str(
        world.classroom.id)


@pytest.mark.parametrize(("body", "field"), [
    ({"title": ""}, "title"),
    ({}, "title"),
    ({"title": "x", "due_at": "demain"}, "due_at"),
    ({"title": "x", "due_at": "2026-03-14T15:00:00"}, "due_at"),
    ({"title": "x", "resources": "maths/fractions"}, "resources"),
    ({"title": "x", "resources": ["absent/rien"]}, "resources"),
    ({"title": "x", "targets": {"groups": ["pas-un-id"]}}, "targets.groups"),
    ({"title": "x", "targets": [1]}, "targets"),
    ({"title": "x", "status": "archived"}, "status"),
    ({"title": "x", "colour": "red"}, "colour"),
])
def test_validation_errors_name_the_field(client: FlaskClient, world: World,
                                          body: dict[str, Any], field: str) -> None:
    sign_in_as(client, world.teacher)
    r = client.post(f"/api/v1/classes/{world.classroom.id}/assignments", json=body)
    err = error_of(r, 400, "invalid")
    assert err["details"]["field"] == field


def test_malformed_json(client: FlaskClient, world: World, app: Flask) -> None:
    sign_in_as(client, world.teacher)
    url = f"/api/v1/classes/{world.classroom.id}/assignments"
    error_of(client.post(url, data="{not json", content_type="application/json"), 400,
             "invalid")
    error_of(client.post(url, json=["a list"]), 400, "invalid")
    a = make_assignment(app, world)
    error_of(client.patch(f"/api/v1/assignments/{a.id}", data="{",
                          content_type="application/json"), 400, "invalid")
    error_of(client.put(f"/api/v1/assignments/{a.id}/feedback/{world.students[0].id}",
                        data="nope", content_type="application/json"), 400, "invalid")


def test_submissions_and_feedback(client: FlaskClient, app: Flask, world: World) -> None:
    a = make_assignment(app, world, due_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    s0 = world.students[0]
    sign_in_as(client, s0)
    client.post(f"/api/v1/assignments/{a.id}/submissions",
                data={"text": "Tard", "files": [(io.BytesIO(samples.PDF), "f.pdf")]},
                content_type="multipart/form-data")
    sign_in_as(client, world.teacher)
    body = client.get(f"/api/v1/assignments/{a.id}/submissions").get_json()
    assert body["assignment_id"] == str(a.id)
    rows = {r["student"]["full_name"]: r for r in body["students"]}
    assert set(rows) == {"Élève 0", "Élève 1", "Élève 2"}
    assert rows["Élève 0"]["status"] == "late"
    assert rows["Élève 0"]["submissions"][0]["files"][0]["url"].startswith("/teacher/files/")
    assert rows["Élève 1"]["status"] == "overdue" and rows["Élève 1"]["submissions"] == []
    url = f"/api/v1/assignments/{a.id}/feedback/{s0.id}"
    r = client.put(url, json={"comment": "Bien", "mark": "8/10"})
    assert r.status_code == 200 and r.get_json()["mark"] == "8/10"
    r = client.put(url, json={"comment": "Très bien", "mark": "9/10"})
    assert r.get_json()["comment"] == "Très bien"
    err = error_of(client.put(url, json={"mark": "x" * 30}), 400, "invalid")
    assert err["details"]["field"] == "mark"
    err = error_of(client.put(url, json={"grade": "A"}), 400, "invalid")
    assert err["details"]["field"] == "grade"
    error_of(client.put(f"/api/v1/assignments/{a.id}/feedback/{world.other_students[0].id}",
                        json={"comment": "?"}), 404, "not_found")
    sign_in_as(client, s0)
    assert client.get(f"/api/v1/assignments/{a.id}").get_json()["feedback"]["mark"] == "9/10"
    sign_in_as(client, world.students[1])
    assert client.get(f"/api/v1/assignments/{a.id}").get_json()["feedback"] is None
    error_of(client.get(f"/api/v1/assignments/{a.id}/submissions"), 403, "forbidden")


def test_errors_in_english(client: FlaskClient, world: World) -> None:
    sign_in_as(client, world.teacher)
    client.get("/lang/en")
    err = error_of(client.post(f"/api/v1/classes/{world.classroom.id}/assignments",
                               json={"title": ""}), 400, "invalid")
    assert err["message"] == "The title is empty: give the assignment a title."


def test_openapi_lists_classwork(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    assert "get" in paths["/api/v1/me/assignments"]
    assert paths["/api/v1/me/assignments"]["get"]["x-roles"] == ["student"]
    assert {"get", "patch"} <= set(paths["/api/v1/assignments/{assignment_id}"])
    assert {"get", "post"} <= set(paths["/api/v1/classes/{classroom_id}/assignments"])
    assert {"get", "post"} <= set(paths["/api/v1/assignments/{assignment_id}/submissions"])
    assert "put" in paths["/api/v1/assignments/{assignment_id}/feedback/{student_id}"]
    assert "requestBody" in paths["/api/v1/classes/{classroom_id}/assignments"]["post"]


@pytest.mark.parametrize("enabled", [True])
def test_unsafe_calls_need_the_csrf_header(client: FlaskClient, app: Flask, world: World,
                                           session: Session, enabled: bool) -> None:
    app.config["WTF_CSRF_ENABLED"] = enabled
    a = make_assignment(app, world)
    sign_in_as(client, world.teacher)
    url = f"/api/v1/classes/{world.classroom.id}/assignments"
    error_of(client.post(url, json={"title": "Sans jeton"}), 400, "csrf_failed")
    tok = csrf_token_of(client.get(f"/teacher/assignments/{a.id}/").get_data(as_text=True))
    r = client.post(url, json={"title": "Avec jeton"}, headers={"X-CSRFToken": tok})
    assert r.status_code == 201
    assert session.scalars(select(Assignment.title).order_by(Assignment.id)).all() == [
        "Devoir", "Avec jeton"]
