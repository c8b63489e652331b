"""Signing in through the real pages, CSRF on, as a tablet or a teacher's laptop would."""

from __future__ import annotations

import re
import uuid
from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import people
from hub.db import database
from hub.models import User
from tests.factories import (
    World,
    csrf_token_of,
    give_code,
    give_password,
    make_world,
    sign_in_as,
)

CODE = "soleil-chat-lune-arbre"


def _signed_in_uid(client: FlaskClient) -> str | None:
    with client.session_transaction() as sess:
        return sess.get("uid")


def _post_code(client: FlaskClient, w: World, student: User, **form: str) -> Any:
    page = client.get(f"/signin/student/{student.id}?class={w.classroom.id}")
    assert page.status_code == 200
    data = {"csrf_token": csrf_token_of(page.get_data(as_text=True)),
            "class": str(w.classroom.id), **form}
    return client.post(f"/signin/student/{student.id}", data=data)


def test_csrf_is_on_for_forms(app: Flask) -> None:
    assert app.config.get("WTF_CSRF_ENABLED", True)


def test_student_picks_class_then_name_then_pictures(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    student = w.students[1]
    give_code(app, student, CODE)
    start = client.get("/signin").get_data(as_text=True)
    assert f"/signin/class/{w.classroom.id}" in start and "5e année" in start
    assert "/signin/staff" in start
    names = client.get(f"/signin/class/{w.classroom.id}").get_data(as_text=True)
    assert f"/signin/student/{student.id}?class={w.classroom.id}" in names
    assert "Élève 1" in names and "Autre 0" not in names  # only this class
    page = client.get(f"/signin/student/{student.id}?class={w.classroom.id}")
    html = page.get_data(as_text=True)
    assert html.count('name="tap"') == 12
    assert 'alt=""' in html and "soleil" in html
    r = _post_code(client, w, student, code=CODE)
    assert r.status_code == 302 and r.headers["Location"] == "/student/"
    assert _signed_in_uid(client) == str(student.id)
    assert f"ardoise_class={w.classroom.id}" in r.headers.get("Set-Cookie", "")


def test_taps_without_javascript(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    student = w.students[0]
    give_code(app, student, CODE)
    url = f"/signin/student/{student.id}"
    html = client.get(f"{url}?class={w.classroom.id}").get_data(as_text=True)
    so_far = ""
    for i, tap in enumerate(CODE.split("-")):
        r = client.post(url, data={"csrf_token": csrf_token_of(html), "code": so_far,
                                   "tap": tap, "class": str(w.classroom.id)})
        if i < 3:
            assert r.status_code == 200
            html = r.get_data(as_text=True)
            so_far = re.search(r'name="code" value="([^"]*)"', html).group(1)  # type: ignore[union-attr]
            assert so_far == "-".join(CODE.split("-")[: i + 1])
            assert _signed_in_uid(client) is None
    assert r.status_code == 302
    assert _signed_in_uid(client) == str(student.id)


def test_wrong_code_says_so_in_french(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    r = _post_code(client, w, w.students[0], code="lune-chat-soleil-arbre")
    assert r.status_code == 401
    assert "Ce n'est pas le bon code" in unescape(r.get_data(as_text=True))
    assert _signed_in_uid(client) is None


def test_post_without_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    client.get("/signin")
    r = client.post(f"/signin/student/{w.students[0].id}", data={"code": CODE})
    assert r.status_code == 400
    assert _signed_in_uid(client) is None


def test_student_with_a_pin(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    student = w.students[2]
    give_code(app, student, "4321")
    html = client.get(f"/signin/student/{student.id}").get_data(as_text=True)
    assert 'inputmode="numeric"' in html and 'name="tap"' not in html
    assert _post_code(client, w, student, code="1234").status_code == 401
    assert _post_code(client, w, student, code="4321").status_code == 302


def test_student_without_code_is_told_to_ask(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    html = client.get(f"/signin/student/{w.students[0].id}").get_data(as_text=True)
    assert "enseignant" in html and 'name="tap"' not in html


def test_unknown_or_staff_ids_are_not_students(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    assert client.get(f"/signin/student/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/signin/student/{w.teacher.id}").status_code == 404
    assert client.get(f"/signin/class/{uuid.uuid4()}").status_code == 404


def test_staff_sign_in_lands_by_role(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_password(app, w.teacher, "le tableau noir")
    give_password(app, w.admin, "la craie blanche")
    for user, password, home in ((w.teacher, "le tableau noir", "/teacher/"),
                                 (w.admin, "la craie blanche", "/admin/")):
        page = client.get("/signin/staff").get_data(as_text=True)
        r = client.post("/signin/staff", data={"csrf_token": csrf_token_of(page),
                                               "username": user.username.upper(),
                                               "password": password})
        assert r.status_code == 302 and r.headers["Location"] == home
        assert _signed_in_uid(client) == str(user.id)


def test_staff_wrong_password_and_empty_form(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_password(app, w.teacher, "le tableau noir")
    token = csrf_token_of(client.get("/signin/staff").get_data(as_text=True))
    r = client.post("/signin/staff", data={"csrf_token": token, "username": "mme.roy",
                                           "password": "le tableau blanc"})
    assert r.status_code == 401
    page = unescape(r.get_data(as_text=True))
    assert "Nom d'utilisateur ou mot de passe incorrect" in page
    assert 'value="mme.roy"' in page  # the username is kept
    r = client.post("/signin/staff", data={"csrf_token": token, "username": "",
                                           "password": ""})
    assert r.status_code == 400
    # a student cannot use the staff form, even with a password set somehow
    give_password(app, w.students[0], "un mot de passe")
    r = client.post("/signin/staff", data={"csrf_token": token, "username": "eleve0",
                                           "password": "un mot de passe"})
    assert r.status_code == 401


def test_next_is_followed_only_when_local(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_password(app, w.teacher, "le tableau noir")
    for nxt, expected in (("/library/?q=chat", "/library/?q=chat"),
                          ("//evil.example/", "/teacher/"),
                          ("https://evil.example/", "/teacher/"),
                          ("/\\evil.example", "/teacher/"),
                          ("/signout", "/teacher/")):
        token = csrf_token_of(client.get("/signin/staff").get_data(as_text=True))
        r = client.post("/signin/staff", data={"csrf_token": token, "username": "mme.roy",
                                               "password": "le tableau noir", "next": nxt})
        assert r.headers["Location"] == expected, nxt


def test_unauthorised_page_sends_to_sign_in_and_back(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_password(app, w.admin, "la craie blanche")
    r = client.get("/admin/users")
    assert r.status_code == 302 and r.headers["Location"].startswith("/signin?next=")
    signin = client.get(r.headers["Location"]).get_data(as_text=True)
    staff_link = re.search(r'href="(/signin/staff[^"]*)"', signin).group(1)  # type: ignore[union-attr]
    page = client.get(staff_link.replace("&amp;", "&")).get_data(as_text=True)
    nxt = re.search(r'name="next" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post("/signin/staff", data={"csrf_token": csrf_token_of(page), "next": nxt,
                                           "username": "tech", "password": "la craie blanche"})
    assert r.headers["Location"] == "/admin/users"


def test_sign_out_returns_to_the_class_of_the_tablet(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    assert _post_code(client, w, w.students[0], code=CODE).status_code == 302
    page = client.get(f"/signin/class/{w.classroom.id}").get_data(as_text=True)
    r = client.post("/signout", data={"csrf_token": csrf_token_of(page)})
    assert r.status_code == 302
    assert r.headers["Location"] == f"/signin/class/{w.classroom.id}"
    assert _signed_in_uid(client) is None
    # without the tablet's class cookie: back to all classes
    client.delete_cookie("ardoise_class")
    page = client.get("/signin/staff").get_data(as_text=True)
    r = client.post("/signout", data={"csrf_token": csrf_token_of(page)})
    assert r.headers["Location"] == "/signin"


def test_reset_signs_the_student_out_everywhere(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    _post_code(client, w, w.students[0], code=CODE)
    assert client.get("/api/v1/session").get_json()["user"]["id"] == str(w.students[0].id)
    with database(app).sessions() as s:
        people.reset_code(s, s.get(User, w.students[0].id))  # type: ignore[arg-type]
        s.commit()
    assert client.get("/api/v1/session").get_json()["user"] is None


def test_deactivated_student_cannot_sign_in(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    with database(app).sessions() as s:
        people.deactivate(s, s.get(User, w.students[0].id))  # type: ignore[arg-type]
        s.commit()
    assert client.get(f"/signin/student/{w.students[0].id}").status_code == 404
    names = client.get(f"/signin/class/{w.classroom.id}").get_data(as_text=True)
    assert str(w.students[0].id) not in names


# -- the teacher's codes page ---------------------------------------------------------------

def _cards(html: str) -> dict[str, str]:
    """Full name -> picture code, read from the printed sheet."""
    cards = {}
    for block in html.split('<li class="codecard">')[1:]:
        name = re.search(r"<h2>([^<]+)</h2>", block).group(1)  # type: ignore[union-attr]
        cards[name] = "-".join(re.findall(r"pictures/(\w+)\.svg", block))
    return cards


def test_teacher_prints_new_codes_for_the_class(app: Flask, client: FlaskClient) -> None:
    w = make_world(app, n_students=3)
    sign_in_as(client, w.teacher)
    page = client.get(f"/teacher/classes/{w.classroom.id}/codes")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Élève 2" in html and "Autre 0" not in html
    r = client.post(f"/teacher/classes/{w.classroom.id}/codes",
                    data={"csrf_token": csrf_token_of(html)})
    assert r.status_code == 200
    cards = _cards(r.get_data(as_text=True))
    assert set(cards) == {"Élève 0", "Élève 1", "Élève 2"}
    assert all(len(code.split("-")) == 4 for code in cards.values())
    # the printed code works
    tablet = app.test_client()
    assert _post_code(tablet, w, w.students[2], code=cards["Élève 2"]).status_code == 302


def test_teacher_renews_one_code(app: Flask, client: FlaskClient) -> None:
    w = make_world(app, n_students=2)
    give_code(app, w.students[0], CODE)
    sign_in_as(client, w.teacher)
    html = client.get(f"/teacher/classes/{w.classroom.id}/codes").get_data(as_text=True)
    r = client.post(f"/teacher/classes/{w.classroom.id}/codes",
                    data={"csrf_token": csrf_token_of(html), "student": str(w.students[1].id)})
    assert set(_cards(r.get_data(as_text=True))) == {"Élève 1"}
    tablet = app.test_client()
    assert _post_code(tablet, w, w.students[0], code=CODE).status_code == 302  # untouched


def test_codes_page_is_only_for_the_class_teacher(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    url = f"/teacher/classes/{w.other_classroom.id}/codes"
    sign_in_as(client, w.teacher)
    assert client.get(url).status_code == 404
    token = csrf_token_of(client.get(f"/teacher/classes/{w.classroom.id}/codes")
                          .get_data(as_text=True))
    assert client.post(url, data={"csrf_token": token}).status_code == 404
    # a student of the other class cannot be renewed through my class either
    r = client.post(f"/teacher/classes/{w.classroom.id}/codes",
                    data={"csrf_token": token, "student": str(w.other_students[0].id)})
    assert r.status_code == 404
    sign_in_as(client, w.students[0])
    assert client.get(f"/teacher/classes/{w.classroom.id}/codes").status_code == 403
    anonymous = app.test_client()
    r = anonymous.get(f"/teacher/classes/{w.classroom.id}/codes")
    assert r.status_code == 302 and "/signin" in r.headers["Location"]
    sign_in_as(client, w.admin)
    assert client.get(url).status_code == 200


def test_change_own_password(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_password(app, w.teacher, "le tableau noir")
    sign_in_as(client, w.teacher)
    html = client.get("/account/password").get_data(as_text=True)
    token = csrf_token_of(html)
    r = client.post("/account/password", data={"csrf_token": token, "current": "faux faux faux",
                                               "new": "une craie verte", "confirm":
                                               "une craie verte"})
    assert r.status_code == 400 and "actuel" in r.get_data(as_text=True)
    r = client.post("/account/password", data={"csrf_token": token,
                                               "current": "le tableau noir",
                                               "new": "court", "confirm": "court"})
    assert r.status_code == 400 and "10" in r.get_data(as_text=True)
    r = client.post("/account/password", data={"csrf_token": token,
                                               "current": "le tableau noir",
                                               "new": "une craie verte",
                                               "confirm": "une craie verte"})
    assert r.status_code == 302
    assert client.get("/api/v1/session").get_json()["user"]["id"] == str(w.teacher.id)
    with database(app).sessions() as s:
        assert s.scalar(select(User.auth_epoch).where(User.id == w.teacher.id)) == 1
