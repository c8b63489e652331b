"""The technician's pages and the users API: add, import, reset, deactivate, enrol."""

from __future__ import annotations

import io
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import people
from hub.auth import verify_code, verify_password
from hub.db import database
from hub.models import User
from tests.factories import csrf_token_of, make_world, sign_in_as


def _token(client: FlaskClient, url: str = "/admin/users/new") -> str:
    return csrf_token_of(client.get(url).get_data(as_text=True))


def _user(app: Flask, username: str) -> User:
    with database(app).sessions() as s:
        user = s.scalar(select(User).where(User.username == username))
        assert user is not None
        return user


def test_admin_home_links(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    sign_in_as(client, w.admin)
    html = client.get("/admin/").get_data(as_text=True)
    for link in ("/admin/users", "/admin/classes", "/admin/users/import"):
        assert f'href="{link}"' in html


def test_add_teacher_shows_the_password_once(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    sign_in_as(client, w.admin)
    r = client.post("/admin/users/new", data={
        "csrf_token": _token(client), "full_name": "Élodie Côté", "role": "teacher",
        "class": str(w.classroom.id)})
    assert r.status_code == 201
    secret = re.search(r'class="secret">([^<]+)<', r.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    user = _user(app, "elodie.cote")
    assert verify_password(user.password_hash, secret)[0]
    with database(app).sessions() as s:
        assert [c.id for c in people.classes_of(s, user)] == [w.classroom.id]
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "Élodie Côté" in listing and secret not in listing


def test_add_user_errors_keep_the_form(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    sign_in_as(client, w.admin)
    r = client.post("/admin/users/new", data={
        "csrf_token": _token(client), "full_name": "Marie Roy", "role": "teacher",
        "username": "mme.roy"})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert "déjà utilisé" in html and 'value="Marie Roy"' in html


def test_reset_and_deactivate(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    sign_in_as(client, w.admin)
    token = _token(client, "/admin/users")
    r = client.post(f"/admin/users/{w.students[0].id}/reset", data={"csrf_token": token})
    assert r.status_code == 200
    code = "-".join(re.findall(r"pictures/(\w+)\.svg", r.get_data(as_text=True)))
    student = _user(app, "eleve0")
    assert verify_code(student.picture_code_hash, code)[0] and student.auth_epoch == 1
    r = client.post(f"/admin/users/{w.teacher.id}/deactivate", data={"csrf_token": token})
    assert r.status_code == 302
    assert not _user(app, "mme.roy").active
    r = client.post(f"/admin/users/{w.admin.id}/deactivate", data={"csrf_token": token})
    assert r.status_code == 400 and _user(app, "tech").active
    client.post(f"/admin/users/{w.teacher.id}/reactivate", data={"csrf_token": token})
    assert _user(app, "mme.roy").active


def test_admin_stays_in_their_school(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    with database(app).sessions() as s:
        other = people.create_school(s, "Ailleurs", "ailleurs")
        stranger, _secret = people.create_user(s, other, "teacher", "Quelqu'un")
        room = people.create_classroom(s, other, "1re")
        s.commit()
        stranger_id, room_id = stranger.id, room.id
    sign_in_as(client, w.admin)
    token = _token(client, "/admin/users")
    assert client.post(f"/admin/users/{stranger_id}/reset",
                       data={"csrf_token": token}).status_code == 404
    assert client.get(f"/admin/classes/{room_id}").status_code == 404
    assert "Quelqu" not in client.get("/admin/users").get_data(as_text=True)


def test_classes_add_and_enrol(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    sign_in_as(client, w.admin)
    token = _token(client, "/admin/classes")
    r = client.post("/admin/classes", data={"csrf_token": token, "name": "Maternelle",
                                            "grade": "0"})
    assert r.status_code == 302
    page = client.get(r.headers["Location"])
    assert page.status_code == 200 and "Maternelle" in page.get_data(as_text=True)
    room_id = r.headers["Location"].rsplit("/", 1)[1]
    r = client.post("/admin/classes", data={"csrf_token": token, "name": "maternelle"})
    assert r.status_code == 409
    for user in (w.teacher, w.other_students[0]):
        r = client.post(f"/admin/classes/{room_id}/enroll",
                        data={"csrf_token": token, "user": str(user.id)})
        assert r.status_code == 302
    html = client.get(f"/admin/classes/{room_id}").get_data(as_text=True)
    assert "Mme Roy" in html and "Autre 0" in html
    r = client.post(f"/admin/classes/{room_id}/unenroll",
                    data={"csrf_token": token, "user": str(w.other_students[0].id)})
    assert r.status_code == 302
    with database(app).sessions() as s:
        room = people.find_classroom(s, people.get_school(s, "littoral"), "Maternelle")
        assert people.students_of(s, room) == []
        assert [u.id for u in people.teachers_of(s, room)] == [w.teacher.id]


def test_import_page(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    sign_in_as(client, w.admin)
    data = "nom_complet;nip\nJean Roy;1234\n;\nMarie Roy;12a\n".encode("utf-8-sig")
    r = client.post("/admin/users/import", data={
        "csrf_token": _token(client, "/admin/users/import"), "class": str(w.classroom.id),
        "file": (io.BytesIO(data), "classe.csv")}, content_type="multipart/form-data")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "1 élèves importés" in html or "1 élève" in html
    assert "Ligne 4" in html
    assert '<span class="secret">1234</span>' in html
    r = client.post("/admin/users/import", data={
        "csrf_token": _token(client, "/admin/users/import"), "class": str(w.classroom.id),
        "file": (io.BytesIO(b"pin\n1234\n"), "classe.csv")}, content_type="multipart/form-data")
    assert r.status_code == 400 and "full_name" in r.get_data(as_text=True)


def test_users_api(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    sign_in_as(client, w.admin)
    token = client.get("/api/v1/session").get_json()["csrf_token"]
    users = client.get("/api/v1/users?role=teacher").get_json()["users"]
    assert {u["username"] for u in users} == {"mme.roy", "m.cote"}
    in_class = client.get(f"/api/v1/users?class={w.classroom.id}").get_json()["users"]
    assert "autre0" not in {u["username"] for u in in_class}
    r = client.post("/api/v1/users", json={"full_name": "Léa Gagnon", "role": "student",
                                           "classroom_id": str(w.classroom.id)},
                    headers={"X-CSRFToken": token})
    assert r.status_code == 201
    body = r.get_json()
    assert body["kind"] == "picture" and body["user"]["username"] == "lea.gagnon"
    assert verify_code(_user(app, "lea.gagnon").picture_code_hash, body["secret"])[0]
    r = client.post("/api/v1/users", json={"full_name": "", "role": "student"},
                    headers={"X-CSRFToken": token})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid"
    r = client.post("/api/v1/users", json={"full_name": "X Y", "role": "boss"},
                    headers={"X-CSRFToken": token})
    assert r.status_code == 400
    sign_in_as(client, w.teacher)
    assert client.get("/api/v1/users").status_code == 403
