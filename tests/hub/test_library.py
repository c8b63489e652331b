"""Library pages and pack files: browse, search, viewers, range requests, safe paths."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from content_packs import install_pack
from hub.db import database
from hub.models import Role
from tests.content_packs.packs import VIDEO, build_pack
from tests.factories import World, make_world, sign_in_as


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app, n_students=1)


@pytest.fixture
def pack(app: Flask, data_dir: Path, tmp_path: Path) -> Path:
    with database(app).sessions() as s:
        install_pack(s, data_dir, build_pack(tmp_path))
    return data_dir / "packs" / "essai" / "1.0.0"


@pytest.fixture
def student(client: FlaskClient, world: World) -> FlaskClient:
    sign_in_as(client, world.students[0])
    return client


ROLES = [Role.STUDENT, Role.TEACHER, Role.ADMIN]


def fetch(client: FlaskClient, url: str, **kw: Any) -> TestResponse:
    """GET a file, the response read and closed (send_file streams from an open file)."""
    return client.get(url, buffered=True, **kw)


def test_anonymous_is_sent_to_sign_in(client: FlaskClient, pack: Path) -> None:
    for url in ("/library/", "/library/search?q=ecole", "/library/r/essai/ecole"):
        r = fetch(client, url)
        assert r.status_code == 302 and "/signin" in r.headers["Location"]


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_every_signed_in_role_browses(client: FlaskClient, world: World, pack: Path,
                                      role: Role) -> None:
    sign_in_as(client, world.by_role(role))
    page = client.get("/library/").get_data(as_text=True)
    assert "L&#39;école du village" in page and "Fiche de fractions" in page
    assert 'name="subject"' in page and 'value="mathematique"' in page


def test_browse_in_english(student: FlaskClient, pack: Path) -> None:
    student.get("/lang/en")
    page = student.get("/library/").get_data(as_text=True)
    assert "The village school" in page and "L&#39;école du village" not in page


def test_filters_work_without_javascript(student: FlaskClient, pack: Path) -> None:
    page = student.get("/library/?subject=mathematique").get_data(as_text=True)
    assert "Fiche de fractions" in page and "Le fleuve" not in page
    assert '<option value="mathematique" selected>' in page
    page = student.get("/library/?language=en").get_data(as_text=True)
    assert "Les couleurs" in page and "Le fleuve" not in page
    page = student.get("/library/?cycle=primaire-3&kind=html").get_data(as_text=True)
    assert "Le fleuve" in page and "Fiche de fractions" not in page


def test_unknown_filter_is_a_clear_400(student: FlaskClient, pack: Path) -> None:
    r = student.get("/library/?subject=histoire")
    assert r.status_code == 400
    assert "histoire" in r.get_data(as_text=True)


def test_search_page(student: FlaskClient, pack: Path) -> None:
    page = student.get("/library/search?q=ecole").get_data(as_text=True)
    assert page.index("L&#39;école du village") < page.index("Le fleuve")
    assert 'value="ecole"' in page
    for hostile in ('"', "NEAR(", "*", "AND", "école\""):
        r = student.get("/library/search", query_string={"q": hostile})
        assert r.status_code == 200, hostile


def test_empty_library(student: FlaskClient) -> None:
    page = student.get("/library/").get_data(as_text=True)
    assert student.get("/library/").status_code == 200
    assert "library" in page.lower() or "bibliothèque" in page.lower()


def _viewer(client: FlaskClient, uid: str) -> str:
    r = client.get(f"/library/r/{uid}")
    assert r.status_code == 200, (uid, r.status_code)
    return r.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.STUDENT, Role.TEACHER], ids=str)
def test_each_kind_has_its_viewer(client: FlaskClient, world: World, pack: Path,
                                  role: Role) -> None:
    sign_in_as(client, world.by_role(role))
    html = _viewer(client, "essai/ecole")
    assert ('<iframe class="viewer" src="/library/files/essai/lecons/ecole.html" '
            'sandbox="allow-scripts"') in html
    pdf = _viewer(client, "essai/fiche")
    assert '<object class="viewer" data="/library/files/essai/fiches/fiche.pdf"' in pdf
    assert 'type="application/pdf"' in pdf
    assert "/library/files/essai/fiches/fiche.pdf?download=1" in pdf
    image = _viewer(client, "essai/dessin")
    assert '<img class="viewer" src="/library/files/essai/images/dessin.svg"' in image
    audio = _viewer(client, "essai/son")
    assert '<audio class="tracked" controls preload="metadata"' in audio
    assert '<source src="/library/files/essai/audio/son.mp3" type="audio/mpeg">' in audio
    video = _viewer(client, "essai/film")
    assert '<video class="tracked" controls preload="metadata" playsinline' in video
    assert '<source src="/library/files/essai/videos/film.mp4" type="video/mp4">' in video
    doc = _viewer(client, "essai/notes")
    assert 'href="/library/files/essai/documents/notes.txt?download=1" download' in doc
    # Only students have progress, so only they get the "I've finished" button.
    assert ('action="/library/progress"' in html) == (role == Role.STUDENT)


def test_unknown_resource_is_404(student: FlaskClient, pack: Path) -> None:
    r = student.get("/library/r/essai/absent")
    assert r.status_code == 404
    assert "essai/absent" in r.get_data(as_text=True)


def test_html_files_run_sandboxed(student: FlaskClient, pack: Path) -> None:
    r = fetch(student, "/library/files/essai/lecons/ecole.html")
    assert r.status_code == 200
    assert r.mimetype == "text/html" and r.mimetype_params["charset"] == "utf-8"
    csp = r.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox allow-scripts;")
    assert "allow-same-origin" not in csp and "connect-src 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    svg = fetch(student, "/library/files/essai/images/dessin.svg")
    assert svg.mimetype == "image/svg+xml"
    assert svg.headers["Content-Security-Policy"].startswith("sandbox allow-scripts;")


def test_pdf_is_served_for_the_browser_viewer(student: FlaskClient, pack: Path) -> None:
    r = fetch(student, "/library/files/essai/fiches/fiche.pdf")
    assert r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    assert "Content-Security-Policy" not in r.headers  # PDF viewers refuse sandboxes
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    d = fetch(student, "/library/files/essai/fiches/fiche.pdf?download=1")
    assert d.headers["Content-Disposition"].startswith("attachment")
    assert "fiche.pdf" in d.headers["Content-Disposition"]


def test_full_response_announces_ranges(client: FlaskClient, pack: Path) -> None:
    r = fetch(client, "/library/files/essai/videos/film.mp4")
    assert r.status_code == 200 and r.data == VIDEO
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Content-Length"] == str(len(VIDEO))
    assert r.headers["ETag"].strip('"') and "private" in r.headers["Cache-Control"]


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-99", 0, 99),
    ("bytes=50000-50999", 50000, 50999),  # seeking into the middle
    ("bytes=99900-", 99900, 99999),
    ("bytes=-500", 99500, 99999),
    ("bytes=99990-200000", 99990, 99999),
])
def test_range_requests(client: FlaskClient, pack: Path, header: str, start: int,
                        end: int) -> None:
    r = fetch(client, "/library/files/essai/videos/film.mp4", headers={"Range": header})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{len(VIDEO)}"
    assert r.headers["Content-Length"] == str(end - start + 1)
    assert r.data == VIDEO[start:end + 1]


def test_unsatisfiable_range_is_416(client: FlaskClient, pack: Path) -> None:
    r = fetch(client, "/library/files/essai/videos/film.mp4",
                   headers={"Range": "bytes=200000-300000"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(VIDEO)}"


def test_if_range(client: FlaskClient, pack: Path) -> None:
    url = "/library/files/essai/videos/film.mp4"
    etag = fetch(client, url).headers["ETag"]
    same = fetch(client, url, headers={"Range": "bytes=10-19", "If-Range": etag})
    assert same.status_code == 206 and same.data == VIDEO[10:20]
    changed = fetch(client, url, headers={"Range": "bytes=10-19", "If-Range": '"autre"'})
    assert changed.status_code == 200 and changed.data == VIDEO
    assert fetch(client, url, headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("path", [
    "../essai/1.0.0/lecons/ecole.html",
    "%2e%2e/%2e%2e/ardoise.db",
    "..%2F..%2F..%2Fardoise.db",
    "lecons%2F..%2F..%2F..%2Fardoise.db",
    "lecons%5Cecole.html",
    "lecons\\ecole.html",
    "%2Fetc%2Fpasswd",
    "manifest.json",
    "lecons/ecole.html%00.txt",
    "lecons/./ecole.html",
])
def test_path_tricks_are_404(client: FlaskClient, pack: Path, path: str) -> None:
    r = fetch(client, f"/library/files/essai/{path}", follow_redirects=True)
    assert r.status_code == 404, path


@pytest.mark.parametrize("url", [
    "/library/files/absent/lecons/ecole.html",
    "/library/files/..%2Fessai/lecons/ecole.html",
    "/library/files/essai//etc/passwd",
])
def test_unknown_packs_and_absolute_paths_are_404(client: FlaskClient, pack: Path,
                                                  url: str) -> None:
    assert fetch(client, url, follow_redirects=True).status_code == 404


def test_only_listed_files_are_served(client: FlaskClient, pack: Path) -> None:
    (pack / "lecons" / "ajout.html").write_text("<p>not in the manifest</p>")
    assert fetch(client, "/library/files/essai/lecons/ajout.html").status_code == 404


def test_a_symlink_leaving_the_pack_is_404(client: FlaskClient, pack: Path,
                                           data_dir: Path) -> None:
    target = pack / "documents" / "notes.txt"
    target.unlink()
    os.symlink(data_dir / "ardoise.db", target)  # tampered with after the install
    assert fetch(client, "/library/files/essai/documents/notes.txt").status_code == 404
