"""The teacher and student pages, driven as a browser would (real CSRF tokens), in French
and English."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db import database
from hub.models import (
    Assignment,
    AssignmentStatus,
    Feedback,
    Group,
    GroupMember,
    Submission,
    SubmissionFile,
)
from tests.factories import World, csrf_token_of, make_assignment, make_group, sign_in_as
from tests.hub.classwork import samples
from tests.hub.classwork.conftest import QueryCounter


def token(client: FlaskClient, page: str) -> str:
    r = client.get(page)
    assert r.status_code == 200, (page, r.status_code)
    return csrf_token_of(r.get_data(as_text=True))


def post(client: FlaskClient, page: str, url: str, data: dict[str, Any], **kw: Any) -> Any:
    r = client.post(url, data={**data, "csrf_token": token(client, page)}, **kw)
    r.request.environ["wsgi.input"].close()  # the test client spools big bodies to a file
    return r


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def html(r: Any) -> str:
    """The page's text with entities decoded (so "n'accepte" reads as typed)."""
    return unescape(r.get_data(as_text=True))


# -- teacher -------------------------------------------------------------------------

def test_teacher_home_lists_only_their_classes(client: FlaskClient, world: World) -> None:
    sign_in_as(client, world.teacher)
    page = html(client.get("/teacher/"))
    assert "5e année" in page and "6e année" not in page
    assert "Mes classes" in page  # French by default
    sign_in_as(client, world.admin)
    page = html(client.get("/teacher/"))
    assert "5e année" in page and "6e année" in page


def test_create_assignment_through_the_form(client: FlaskClient, world: World,
                                            session: Session, resources: list[str]) -> None:
    sign_in_as(client, world.teacher)
    new = f"/teacher/classes/{world.classroom.id}/assignments/new"
    form = {"title": "Lire le conte", "instructions": "Lis-le deux fois.",
            "due_at": "2026-03-14T15:00", "mode": "some",
            "students": [str(world.students[1].id)], "resources": [resources[2]],
            "action": "save"}
    r = post(client, new, new, form)
    assert r.status_code == 302
    a = session.scalars(select(Assignment)).one()
    assert a.status is AssignmentStatus.DRAFT
    assert a.due_at == dt.datetime(2026, 3, 14, 19, 0, tzinfo=dt.UTC)  # Toronto -> UTC
    assert r.headers["Location"].endswith(f"/teacher/assignments/{a.id}/")
    page = html(client.get(f"/teacher/assignments/{a.id}/"))
    assert "Lire le conte" in page and "Brouillon" in page and "Élève 1" in page
    assert "Élève 0" not in page  # only the named student is listed
    edit = html(client.get(f"/teacher/assignments/{a.id}/edit"))
    assert 'value="2026-03-14T15:00"' in edit  # shown back in the hub's time zone
    assert "Le conte du loup" in edit


def test_form_errors_keep_what_was_typed(client: FlaskClient, world: World,
                                         session: Session) -> None:
    sign_in_as(client, world.teacher)
    new = f"/teacher/classes/{world.classroom.id}/assignments/new"
    r = post(client, new, new, {"title": " ", "instructions": "Mes consignes précieuses",
                                 "action": "publish"})
    assert r.status_code == 400
    page = html(r)
    assert "Mes consignes précieuses" in page and 'aria-invalid="true"' in page
    assert "titre" in page.lower()
    r = post(client, new, new, {"title": "Ciblé", "mode": "some", "action": "save"})
    assert r.status_code == 400 and "groupe" in html(r)
    assert count(session, Assignment) == 0


def test_library_search_in_the_form(client: FlaskClient, world: World,
                                    resources: list[str]) -> None:
    sign_in_as(client, world.teacher)
    new = f"/teacher/classes/{world.classroom.id}/assignments/new"
    r = post(client, new, new, {"title": "Gardé", "q": "fractions", "action": "search"})
    page = html(r)
    assert r.status_code == 200
    assert 'value="maths/fractions"' in page and "Le conte du loup" not in page
    assert 'value="Gardé"' in page


def test_publish_close_reopen_and_refused_move(client: FlaskClient, app: Flask,
                                               world: World, session: Session) -> None:
    a = make_assignment(app, world, status=AssignmentStatus.DRAFT)
    sign_in_as(client, world.teacher)
    page = f"/teacher/assignments/{a.id}/"
    url = f"/teacher/assignments/{a.id}/status"
    for status, expected in (("published", AssignmentStatus.PUBLISHED),
                             ("closed", AssignmentStatus.CLOSED),
                             ("published", AssignmentStatus.PUBLISHED)):
        assert post(client, page, url, {"status": status}).status_code == 302
        session.expire_all()
        assert session.get(Assignment, a.id).status is expected
    r = post(client, page, url, {"status": "draft"}, follow_redirects=True)
    assert "brouillon" in html(r).lower() and 'class="flash error"' in html(r)
    session.expire_all()
    assert session.get(Assignment, a.id).status is AssignmentStatus.PUBLISHED


def test_groups_pages(client: FlaskClient, world: World, session: Session) -> None:
    sign_in_as(client, world.teacher)
    groups_page = f"/teacher/classes/{world.classroom.id}/groups"
    r = post(client, groups_page, groups_page, {"name": "Lecteurs"})
    assert r.status_code == 302
    group = session.scalars(select(Group)).one()
    group_page = f"/teacher/groups/{group.id}"
    s0, s1, _ = world.students
    r = post(client, group_page, f"{group_page}/members",
             {"student_id": [str(s0.id), str(s1.id)]})
    assert r.status_code == 302
    assert count(session, GroupMember) == 2
    r = post(client, group_page, f"{group_page}/members/remove", {"student_id": str(s0.id)})
    members = session.scalars(select(GroupMember).where(GroupMember.deleted.is_(False))).all()
    assert [m.user_id for m in members] == [s1.id]
    # a student of another class cannot be added
    r = post(client, group_page, f"{group_page}/members",
             {"student_id": str(world.other_students[0].id)}, follow_redirects=True)
    assert 'class="flash error"' in html(r)
    assert count(session, GroupMember) == 2
    assert "Lecteurs" in html(client.get(groups_page))
    r = post(client, groups_page, groups_page, {"name": ""})
    assert r.status_code == 400


def test_review_and_feedback(client: FlaskClient, app: Flask, world: World,
                             session: Session) -> None:
    a = make_assignment(app, world, "Photo du cahier")
    s0 = world.students[0]
    sign_in_as(client, s0)
    page = f"/student/assignments/{a.id}"
    r = post(client, page, f"{page}/hand-in", {
        "text": "Voici mon travail",
        "files": [(io.BytesIO(samples.JPEG), "cahier.jpg"),
                  (io.BytesIO(samples.wav()), "lecture.wav"),
                  (io.BytesIO(samples.PDF), "fiche.pdf")]},
        content_type="multipart/form-data")
    assert r.status_code == 302
    files = {f.media_type: f for f in session.scalars(select(SubmissionFile))}
    sign_in_as(client, world.teacher)
    table = html(client.get(f"/teacher/assignments/{a.id}/"))
    assert "Remis" in table and "Pas encore" in table  # s0 handed in, others not yet
    review = f"/teacher/assignments/{a.id}/students/{s0.id}"
    page = html(client.get(review))
    assert "Voici mon travail" in page
    assert f'<img src="/teacher/files/{files["image/jpeg"].id}"' in page
    assert f'<audio controls preload="none" src="/teacher/files/{files["audio/wav"].id}"' in page
    assert f'href="/teacher/files/{files["application/pdf"].id}"' in page
    r = post(client, review, review, {"comment": "Très bien", "mark": "A"})
    assert r.status_code == 302
    r = post(client, review, review, {"comment": "Très bien, revu", "mark": "A+"})
    fb = session.scalars(select(Feedback)).one()
    assert (fb.comment, fb.mark) == ("Très bien, revu", "A+")
    sign_in_as(client, s0)
    mine = html(client.get(f"/student/assignments/{a.id}"))
    assert "Très bien, revu" in mine and "A+" in mine
    sign_in_as(client, world.students[1])
    assert "Très bien" not in html(client.get(f"/student/assignments/{a.id}"))


def test_progress_page(client: FlaskClient, app: Flask, world: World,
                       resources: list[str]) -> None:
    make_assignment(app, world, resources=tuple(resources[:2]))
    sign_in_as(client, world.teacher)
    page = html(client.get(f"/teacher/classes/{world.classroom.id}/progress"))
    assert "Les fractions" in page and "Élève 2" in page
    assert page.count('class="none"') == 6  # 3 students x 2 resources, nothing opened
    client.get("/lang/en")
    page = html(client.get(f"/teacher/classes/{world.classroom.id}/progress"))
    assert "Fractions" in page and "Progress" in page


# -- student -------------------------------------------------------------------------

def test_student_home_in_french_and_english(client: FlaskClient, app: Flask,
                                            world: World, session: Session) -> None:
    make_assignment(app, world, "À rendre", due_at=dt.datetime(2030, 1, 1, 17, tzinfo=dt.UTC))
    done = make_assignment(app, world, "Déjà fait")
    make_assignment(app, world, "Caché", status=AssignmentStatus.DRAFT)
    make_assignment(app, world, "Fini", status=AssignmentStatus.CLOSED)
    session.add(Submission(school_id=done.school_id, classroom_id=done.classroom_id,
                           assignment_id=done.id, student_id=world.students[0].id, text="x"))
    session.commit()
    sign_in_as(client, world.students[0])
    page = html(client.get("/student/"))
    todo, rest = page.split('id="done"')
    assert "À rendre" in todo and "Déjà fait" in rest and "Fini" in rest
    assert "Caché" not in page
    assert "À faire" in page and "Remis" in page and "Fermé" in page
    assert "2030" in todo  # due date shown
    assert 'href="/library/"' in page and "Bibliothèque" in page
    client.get("/lang/en")
    page = html(client.get("/student/"))
    assert "To do" in page and "Done" in page and "Handed in" in page and "Library" in page
    assert '<html lang="en">' in page


def test_hand_in_form_offers_camera_or_gallery(client: FlaskClient, app: Flask,
                                               world: World) -> None:
    a = make_assignment(app, world, instructions="Prends ta feuille en photo.",
                        resources=("maths/absent",))
    sign_in_as(client, world.students[0])
    page = html(client.get(f"/student/assignments/{a.id}"))
    tag = re.search(r"<input[^>]*type=\"file\"[^>]*>", page)
    assert tag is not None
    assert 'accept="image/*,audio/*,application/pdf"' in tag.group(0)
    assert "multiple" in tag.group(0) and "capture" not in tag.group(0)
    assert 'enctype="multipart/form-data"' in page
    assert "Prends ta feuille en photo." in page
    assert "/library/r/maths/absent" not in page and "maths/absent" in page  # unavailable


def test_hand_in_through_the_page(client: FlaskClient, app: Flask, world: World,
                                  session: Session) -> None:
    a = make_assignment(app, world)
    sign_in_as(client, world.students[0])
    page = f"/student/assignments/{a.id}"
    r = post(client, page, f"{page}/hand-in", {"text": "Première"}, follow_redirects=True)
    assert r.status_code == 200 and "Première" in html(r)
    post(client, page, f"{page}/hand-in", {"text": "Seconde", "files": [
        (io.BytesIO(samples.PNG), "dessin.png")]}, content_type="multipart/form-data")
    assert count(session, Submission) == 2  # appended, not replaced
    text = html(client.get(page))
    assert text.index("Seconde") < text.index("Première")  # newest first
    assert "Remettre de nouveau" in text


def test_wrong_type_on_the_page_keeps_the_text(client: FlaskClient, app: Flask,
                                               world: World, session: Session,
                                               data_dir: Path) -> None:
    a = make_assignment(app, world)
    sign_in_as(client, world.students[0])
    page = f"/student/assignments/{a.id}"
    r = post(client, page, f"{page}/hand-in", {
        "text": "Mon long texte", "files": [(io.BytesIO(samples.TEXT), "photo.jpg")]},
        content_type="multipart/form-data")
    assert r.status_code == 415
    body = html(r)
    assert "Mon long texte" in body and "photo.jpg" in body
    assert "JPEG" in body and "PDF" in body and "n'accepte pas" in body
    assert count(session, Submission) == 0
    assert not list((data_dir / "blobs").glob("*"))


@pytest.fixture
def app_config(data_dir: Path) -> dict[str, Any]:
    return {"TESTING": True, "data_dir": str(data_dir), "upload_max_mb": 1}


def test_per_file_limit_on_the_page(client: FlaskClient, app: Flask, world: World,
                                    session: Session, data_dir: Path) -> None:
    a = make_assignment(app, world)
    sign_in_as(client, world.students[0])
    page = f"/student/assignments/{a.id}"
    big = samples.big_jpeg(1024 * 1024 + 10_000)  # over 1 MB, under the request cap
    r = post(client, page, f"{page}/hand-in", {
        "text": "gardé", "files": [(io.BytesIO(big), "grosse.jpg")]},
        content_type="multipart/form-data")
    assert r.status_code == 413
    assert "1 Mo" in html(r) and "grosse.jpg" in html(r) and "gardé" in html(r)
    # a whole request over the cap is stopped by the web server, still naming the limit
    huge = samples.big_jpeg(3 * 1024 * 1024)
    r = post(client, page, f"{page}/hand-in", {"files": [(io.BytesIO(huge), "x.jpg")]},
             content_type="multipart/form-data")
    assert r.status_code == 413 and "1 Mo" in html(r)
    assert count(session, Submission) == 0 and count(session, SubmissionFile) == 0
    assert not list((data_dir / "blobs").glob("*"))


def test_disk_full_on_the_page(client: FlaskClient, app: Flask, world: World,
                               session: Session, data_dir: Path, tiny_disk: Path) -> None:
    for name in ("blobs", "staging"):
        (tiny_disk / name).mkdir()
        if (data_dir / name).is_dir():  # made empty by the app factory
            (data_dir / name).rmdir()
        (data_dir / name).symlink_to(tiny_disk / name)
    a = make_assignment(app, world)
    sign_in_as(client, world.students[0])
    page = f"/student/assignments/{a.id}"
    r = post(client, page, f"{page}/hand-in", {
        "text": "Mon texte à garder",
        "files": [(io.BytesIO(samples.big_jpeg(300 * 1024)), "photo.jpg")]},
        content_type="multipart/form-data")
    assert r.status_code == 507
    body = html(r)
    assert "est plein" in body and "enseignant" in body and "Mon texte à garder" in body
    assert count(session, Submission) == 0
    assert not list((tiny_disk / "staging").rglob("*.part"))
    assert not list((tiny_disk / "blobs").iterdir())


def test_expired_form_keeps_the_typed_text(client: FlaskClient, app: Flask,
                                           world: World, session: Session) -> None:
    a = make_assignment(app, world)
    sign_in_as(client, world.students[0])
    r = client.post(f"/student/assignments/{a.id}/hand-in",
                    data={"text": "Trois paragraphes écrits avec soin",
                          "csrf_token": "expired-or-forged"})
    assert r.status_code == 400
    assert "Trois paragraphes écrits avec soin" in html(r)
    assert count(session, Submission) == 0


def test_files_are_served_safely(client: FlaskClient, app: Flask, world: World,
                                 session: Session) -> None:
    a = make_assignment(app, world)
    sign_in_as(client, world.students[0])
    page = f"/student/assignments/{a.id}"
    post(client, page, f"{page}/hand-in", {"files": [
        (io.BytesIO(samples.PDF), "Rédaction finale.pdf"),
        (io.BytesIO(samples.HEIC), "IMG_0001.jpg")]}, content_type="multipart/form-data")
    pdf, heic = session.scalars(select(SubmissionFile).order_by(SubmissionFile.id)).all()
    with client.get(f"/student/files/{pdf.id}") as r:
        assert r.status_code == 200 and r.data == samples.PDF
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("inline")
    assert "R%C3%A9daction%20finale.pdf" in r.headers["Content-Disposition"]
    assert "private" in r.headers["Cache-Control"] and "public" not in r.headers["Cache-Control"]
    with client.get(f"/student/files/{heic.id}?download=1") as r:
        pass
    assert r.headers["Content-Type"] == "image/heic"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert "IMG_0001.jpg.heic" in r.headers["Content-Disposition"]
    sign_in_as(client, world.teacher)
    with client.get(f"/teacher/files/{pdf.id}") as r:
        assert r.status_code == 200 and r.data == samples.PDF
    review = html(client.get(f"/teacher/assignments/{a.id}/students/{world.students[0].id}"))
    assert f'href="/teacher/files/{heic.id}"' in review  # most browsers cannot draw HEIC:
    assert f'<img src="/teacher/files/{heic.id}"' not in review  # a link, not a broken image


def test_student_home_is_few_queries_whatever_the_number_of_assignments(
        client: FlaskClient, app: Flask, world: World, count_queries: QueryCounter) -> None:
    sign_in_as(client, world.students[0])
    group = make_group(app, world.classroom, "G", (world.students[0],))
    for i in range(3):
        make_assignment(app, world, f"A{i}", groups=(group,))
    client.get("/student/")
    count_queries.statements.clear()
    assert client.get("/student/").status_code == 200
    few = count_queries.count
    for i in range(12):
        make_assignment(app, world, f"B{i}", students=(world.students[0],))
    count_queries.statements.clear()
    assert client.get("/student/").status_code == 200
    assert count_queries.count == few <= 3  # the user, the list (no N+1)


def test_student_home_is_tiny(client: FlaskClient, app: Flask, world: World) -> None:
    for i in range(25):
        make_assignment(app, world, f"Devoir numéro {i} avec un titre assez long",
                        due_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    sign_in_as(client, world.students[0])
    page = client.get("/student/").data
    css = (Path(app.root_path) / "static" / "ardoise.css").read_bytes()
    assert "<img" not in page.decode()
    total = len(gzip.compress(page)) + len(gzip.compress(css))
    assert total < 30 * 1024, total


def test_nav_links_by_role(client: FlaskClient, world: World) -> None:
    sign_in_as(client, world.teacher)
    page = html(client.get("/teacher/"))
    assert 'href="/teacher/"' in page and 'href="/student/"' not in page
    sign_in_as(client, world.students[0])
    page = html(client.get("/student/"))
    assert 'href="/student/"' in page and 'href="/teacher/"' not in page


def test_pages_render_in_english(client: FlaskClient, app: Flask, world: World,
                                 resources: list[str]) -> None:
    a = make_assignment(app, world, resources=(resources[0],))
    group = make_group(app, world.classroom, "Team", (world.students[0],))
    sign_in_as(client, world.teacher)
    client.get("/lang/en")
    cid = world.classroom.id
    pages = {"/teacher/": "My classes", f"/teacher/classes/{cid}/": "New assignment",
             f"/teacher/classes/{cid}/assignments/new": "The whole class",
             f"/teacher/assignments/{a.id}/": "Who handed in",
             f"/teacher/assignments/{a.id}/edit": "Library resources",
             f"/teacher/assignments/{a.id}/students/{world.students[0].id}": "Feedback",
             f"/teacher/classes/{cid}/groups": "New group",
             f"/teacher/groups/{group.id}": "Members",
             f"/teacher/classes/{cid}/progress": "Progress"}
    for url, text in pages.items():
        r = client.get(url)
        assert r.status_code == 200, url
        assert text in html(r), url
    client.get("/lang/fr_CA")
    assert "Nouveau devoir" in html(client.get(f"/teacher/classes/{cid}/"))
    with database(app).sessions() as s:
        assert s.get(Assignment, a.id) is not None
