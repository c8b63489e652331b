"""The session API, used by scripts, benchmarks and browser tests to sign in."""

from __future__ import annotations

import uuid

from flask import Flask
from flask.testing import FlaskClient

from tests.factories import give_code, give_password, make_world

CODE = "soleil-chat-lune-arbre"


def _token(client: FlaskClient) -> str:
    body = client.get("/api/v1/session").get_json()
    assert body["user"] is None or isinstance(body["user"], dict)
    return body["csrf_token"]


def test_anonymous_session(client: FlaskClient) -> None:
    body = client.get("/api/v1/session").get_json()
    assert body["user"] is None and len(body["csrf_token"]) > 20


def test_student_signs_in_with_get_then_post(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    token = _token(client)
    r = client.post("/api/v1/session", json={"student_id": str(w.students[0].id),
                                             "code": CODE}, headers={"X-CSRFToken": token})
    assert r.status_code == 200
    body = r.get_json()
    assert body["user"]["id"] == str(w.students[0].id)
    assert body["user"]["role"] == "student" and body["user"]["home"] == "/student/"
    assert "password_hash" not in body["user"] and "picture_code_hash" not in body["user"]
    new_token = body["csrf_token"]
    assert client.get("/api/v1/session").get_json()["user"]["id"] == str(w.students[0].id)
    # the new token works for the next unsafe request; sign out
    r = client.delete("/api/v1/session", headers={"X-CSRFToken": new_token})
    assert r.status_code == 200 and r.get_json()["user"] is None
    assert client.get("/api/v1/session").get_json()["user"] is None


def test_thirty_students_on_thirty_clients(app: Flask) -> None:
    w = make_world(app, n_students=30)
    for st in w.students:
        give_code(app, st, CODE)
    for st in w.students:
        tablet = app.test_client()
        token = _token(tablet)
        r = tablet.post("/api/v1/session", json={"student_id": str(st.id), "code": CODE},
                        headers={"X-CSRFToken": token})
        assert r.status_code == 200, r.get_json()


def test_staff_signs_in(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_password(app, w.admin, "la craie blanche")
    r = client.post("/api/v1/session", json={"username": "tech",
                                             "password": "la craie blanche"},
                    headers={"X-CSRFToken": _token(client)})
    assert r.status_code == 200 and r.get_json()["user"]["home"] == "/admin/"
    r = client.post("/api/v1/session", json={"username": "tech", "school": "littoral",
                                             "password": "la craie blanche"},
                    headers={"X-CSRFToken": r.get_json()["csrf_token"]})
    assert r.status_code == 200


def test_wrong_code_is_401_in_the_error_shape(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    r = client.post("/api/v1/session", json={"student_id": str(w.students[0].id),
                                             "code": "lune-lune-lune-lune"},
                    headers={"X-CSRFToken": _token(client)})
    assert r.status_code == 401
    err = r.get_json()["error"]
    assert err["status"] == 401 and err["code"] == "unauthorized" and err["message"]


def test_csrf_header_missing_is_400(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    _token(client)
    r = client.post("/api/v1/session", json={"student_id": str(w.students[0].id),
                                             "code": CODE})
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "csrf_failed"
    assert client.get("/api/v1/session").get_json()["user"] is None


def test_malformed_bodies_are_400(app: Flask, client: FlaskClient) -> None:
    make_world(app)
    headers = {"X-CSRFToken": _token(client)}
    cases = [
        dict(data="{not json", content_type="application/json"),
        dict(json=["a", "list"]),
        dict(json={"something": "else"}),
        dict(json={"student_id": "not-an-id", "code": CODE}),
        dict(json={"student_id": 12, "code": CODE}),
        dict(json={"username": "tech", "password": ["x"]}),
        dict(json={"username": "", "password": ""}),
    ]
    for kwargs in cases:
        r = client.post("/api/v1/session", headers=headers, **kwargs)  # type: ignore[arg-type]
        assert r.status_code == 400, kwargs
        err = r.get_json()["error"]
        assert err["status"] == 400 and err["message"], kwargs


def test_unknown_student_is_404(app: Flask, client: FlaskClient) -> None:
    r = client.post("/api/v1/session", json={"student_id": str(uuid.uuid4()), "code": CODE},
                    headers={"X-CSRFToken": _token(client)})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_public_picker_lists(app: Flask, client: FlaskClient) -> None:
    w = make_world(app, n_students=2)
    give_code(app, w.students[1], "2468")
    classes = client.get("/api/v1/classes").get_json()["classes"]
    assert {c["name"] for c in classes} == {"5e année", "6e année"}
    assert set(classes[0]) == {"id", "name", "grade"}
    students = client.get(f"/api/v1/classes/{w.classroom.id}/students").get_json()["students"]
    assert [s["name"] for s in students] == ["Élève 0", "Élève 1"]
    assert [s["code_kind"] for s in students] == [None, "pin"]
    assert set(students[0]) == {"id", "name", "code_kind"}
    assert client.get(f"/api/v1/classes/{uuid.uuid4()}/students").status_code == 404


def test_openapi_lists_the_session_and_people_operations(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get", "post", "delete"} <= set(paths["/api/v1/session"])
    assert "requestBody" in paths["/api/v1/session"]["post"]
    assert paths["/api/v1/users"]["get"]["x-roles"] == ["admin"]
    assert "/api/v1/classes/{classroom_id}/students" in paths
