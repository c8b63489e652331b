"""The library's JSON API and student progress (page views, the button, the API)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ardoise.errors import Forbidden, NotFound
from content_packs import install_pack
from hub.db import database
from hub.models import ProgressEvent, ProgressKind, Role
from hub.progress import REPEAT_WINDOW, has_finished, record_progress
from tests.content_packs.packs import build_pack
from tests.factories import World, csrf_token_of, make_world, sign_in_as


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app, n_students=2)


@pytest.fixture
def pack(app: Flask, data_dir: Path, tmp_path: Path) -> None:
    with database(app).sessions() as s:
        install_pack(s, data_dir, build_pack(tmp_path))


def events(app: Flask) -> list[ProgressEvent]:
    with database(app).sessions() as s:
        return list(s.scalars(select(ProgressEvent).order_by(ProgressEvent.created_at)))


# -- API: resources -----------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.STUDENT, Role.TEACHER, Role.ADMIN], ids=str)
def test_list_resources(client: FlaskClient, world: World, pack: None, role: Role) -> None:
    sign_in_as(client, world.by_role(role))
    body = client.get("/api/v1/library/resources").get_json()
    assert body["total"] == 8 and len(body["items"]) == 8
    first = body["items"][0]
    assert first["uid"] == "essai/ecole"
    assert first["title"] == {"fr": "L'école du village", "en": "The village school"}
    assert first["subjects"] == ["francais"] and first["cycles"] == ["primaire-2"]
    assert first["url"] == "/library/r/essai/ecole"
    assert first["file_url"] == "/library/files/essai/lecons/ecole.html"


def test_search_and_filters(client: FlaskClient, world: World, pack: None) -> None:
    sign_in_as(client, world.students[0])

    def uids(**args: str) -> list[str]:
        r = client.get("/api/v1/library/resources", query_string=args)
        assert r.status_code == 200, r.get_json()
        return [i["uid"] for i in r.get_json()["items"]]

    assert uids(q="ecole")[:2] == ["essai/ecole", "essai/fleuve"]
    assert uids(subject="mathematique") == ["essai/fiche"]
    assert uids(language="en") == ["essai/colours"]
    # "colours" has no cycles of its own: it carries the pack's (primaire-2 and -3).
    assert uids(cycle="primaire-3", kind="html") == ["essai/fleuve", "essai/colours"]
    assert uids(q='NEAR("') == []
    assert len(uids(limit="2", offset="1")) == 2


def test_bad_filter_has_the_error_shape(client: FlaskClient, world: World, pack: None) -> None:
    sign_in_as(client, world.teacher)
    r = client.get("/api/v1/library/resources?cycle=primaire-9")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["code"] == "invalid" and "primaire-9" in err["message"]


def test_one_resource(client: FlaskClient, world: World, pack: None) -> None:
    sign_in_as(client, world.teacher)
    body = client.get("/api/v1/library/resources/essai/film").get_json()
    assert body["kind"] == "video" and body["duration_seconds"] == 8
    assert body["size"] == 100_000 and body["media_type"] == "video/mp4"
    r = client.get("/api/v1/library/resources/essai/absent")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_anonymous_gets_401(client: FlaskClient, pack: None) -> None:
    assert client.get("/api/v1/library/resources").status_code == 401


def test_openapi_documents_the_library(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/library/resources"]
    assert "get" in paths["/api/v1/library/resources/{uid}"]
    post = paths["/api/v1/progress"]["post"]
    assert post["x-roles"] == ["student"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "resource_uid", "kind"]


# -- progress -----------------------------------------------------------------------------

def test_opening_a_resource_records_opened_once(app: Flask, client: FlaskClient,
                                                world: World, pack: None) -> None:
    student = world.students[0]
    sign_in_as(client, student)
    assert client.get("/library/r/essai/ecole").status_code == 200
    assert client.get("/library/r/essai/ecole").status_code == 200  # a reload
    [event] = events(app)
    assert (event.kind, event.resource_uid) == (ProgressKind.OPENED, "essai/ecole")
    assert event.user_id == student.id and event.school_id == world.school.id
    assert event.classroom_id == world.classroom.id


@pytest.mark.parametrize("role", [Role.TEACHER, Role.ADMIN], ids=str)
def test_adults_opening_resources_record_nothing(app: Flask, client: FlaskClient,
                                                 world: World, pack: None, role: Role) -> None:
    sign_in_as(client, world.by_role(role))
    assert client.get("/library/r/essai/ecole").status_code == 200
    assert events(app) == []


def test_finished_with_the_button(app: Flask, client: FlaskClient, world: World,
                                  pack: None) -> None:
    sign_in_as(client, world.students[0])
    page = client.get("/library/r/essai/fiche").get_data(as_text=True)
    r = client.post("/library/progress", data={
        "csrf_token": csrf_token_of(page), "resource_uid": "essai/fiche", "kind": "finished"})
    assert r.status_code == 302 and r.headers["Location"] == "/library/r/essai/fiche"
    kinds = [(e.kind, e.resource_uid) for e in events(app)]
    assert kinds == [(ProgressKind.OPENED, "essai/fiche"), (ProgressKind.FINISHED, "essai/fiche")]
    page = client.get("/library/r/essai/fiche").get_data(as_text=True)
    assert 'class="badge ok"' in page  # "finished" shows on the page


def test_the_button_needs_the_csrf_token(app: Flask, client: FlaskClient, world: World,
                                         pack: None) -> None:
    sign_in_as(client, world.students[0])
    r = client.post("/library/progress", data={"resource_uid": "essai/fiche"})
    assert r.status_code == 400
    assert events(app) == []


def _api_token(client: FlaskClient) -> str:
    page = client.get("/library/r/essai/film").get_data(as_text=True)
    return page.split('<meta name="csrf-token" content="')[1].split('"')[0]


def test_finished_through_the_api(app: Flask, client: FlaskClient, world: World,
                                  pack: None) -> None:
    sign_in_as(client, world.students[0])
    token = _api_token(client)
    r = client.post("/api/v1/progress", json={"resource_uid": "essai/film", "kind": "finished"},
                    headers={"X-CSRFToken": token})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["kind"] == "finished" and body["resource_uid"] == "essai/film"
    assert [e.kind for e in events(app)] == [ProgressKind.OPENED, ProgressKind.FINISHED]
    # The video's `ended` and the button together: one event, the same one answered.
    again = client.post("/api/v1/progress", json={"resource_uid": "essai/film",
                                                  "kind": "finished"},
                        headers={"X-CSRFToken": token})
    assert again.get_json()["id"] == body["id"] and len(events(app)) == 2


@pytest.mark.parametrize(("payload", "status"), [
    ({"resource_uid": "essai/absent", "kind": "finished"}, 404),
    ({"resource_uid": "essai/film", "kind": "liked"}, 400),
    ({"resource_uid": "essai/film"}, 400),
    ([1, 2], 400),
])
def test_bad_progress_requests(app: Flask, client: FlaskClient, world: World, pack: None,
                               payload: object, status: int) -> None:
    sign_in_as(client, world.students[0])
    token = _api_token(client)
    r = client.post("/api/v1/progress", json=payload, headers={"X-CSRFToken": token})
    assert r.status_code == status
    assert r.get_json()["error"]["message"]
    assert [e.kind for e in events(app)] == [ProgressKind.OPENED]


@pytest.mark.parametrize("role", [None, Role.TEACHER, Role.ADMIN], ids=str)
def test_only_students_post_progress(app: Flask, client: FlaskClient, world: World,
                                     pack: None, role: Role | None) -> None:
    if role is not None:
        sign_in_as(client, world.by_role(role))
        token = _api_token(client)
    else:  # an anonymous visitor has no session to take a token from
        app.config["WTF_CSRF_ENABLED"] = False
        token = "x"
    r = client.post("/api/v1/progress", json={"resource_uid": "essai/film", "kind": "finished"},
                    headers={"X-CSRFToken": token})
    assert r.status_code == (401 if role is None else 403)
    form = client.post("/library/progress", data={"csrf_token": token,
                                                  "resource_uid": "essai/film"})
    if role is None:
        assert form.status_code == 302 and "/signin" in form.headers["Location"]
    else:
        assert form.status_code == 403
    assert events(app) == []


def test_record_progress_library_rules(app: Flask, world: World, pack: None) -> None:
    with database(app).sessions() as s:
        student = world.students[0]
        start = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
        first = record_progress(s, student, "essai/ecole", "opened", now=start)
        same = record_progress(s, student, "essai/ecole", ProgressKind.OPENED,
                               now=start + REPEAT_WINDOW / 2)
        later = record_progress(s, student, "essai/ecole", "opened",
                                now=start + REPEAT_WINDOW * 2)
        assert same.id == first.id and later.id != first.id
        assert not has_finished(s, student, "essai/ecole")
        record_progress(s, student, "essai/ecole", "finished", now=start)
        assert has_finished(s, student, "essai/ecole")
        assert not has_finished(s, world.students[1], "essai/ecole")
        with pytest.raises(Forbidden):
            record_progress(s, world.teacher, "essai/ecole", "opened")
        with pytest.raises(NotFound):
            record_progress(s, student, "essai/nope", "opened")
        s.commit()
