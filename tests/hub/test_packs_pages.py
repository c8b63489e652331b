"""The technician's packs page (versions, going back, USB sticks, progress) and the ZIM
pages of the library."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ardoise import device
from content_packs import install_pack
from content_packs.build import build_manifest
from content_packs.status import queued_installs, write_transfer
from hub.db import database
from hub.models import Role
from tests.content_packs.keys import Publisher, make_publisher
from tests.content_packs.packs import next_version, signed_pack
from tests.content_packs.zimfile import write_zim
from tests.factories import World, make_world, sign_in_as


@pytest.fixture(scope="module")
def publisher(tmp_path_factory: pytest.TempPathFactory) -> Publisher:
    return make_publisher(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def app_config(data_dir: Path, tmp_path: Path, publisher: Publisher) -> dict[str, Any]:
    return {"TESTING": True, "data_dir": str(data_dir),
            "pack_trusted_keys": str(publisher.public_path),
            "pack_usb_mount_root": str(tmp_path / "media"), "language": "en"}


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app, n_students=1)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_the_page_shows_versions_and_goes_back(app: Flask, client: FlaskClient, world: World,
                                               data_dir: Path, tmp_path: Path,
                                               publisher: Publisher) -> None:
    v1 = signed_pack(tmp_path / "a", publisher)
    with database(app).sessions() as s:
        install_pack(s, data_dir, v1, trust=publisher.trust)
        install_pack(s, data_dir, next_version(v1, tmp_path / "b", publisher),
                     trust=publisher.trust)
        write_transfer(s, {"pack": "autre", "version": "3.0", "source": "rsync://c/packs",
                           "phase": "download", "done": 500_000, "total": 2_000_000,
                           "rate": 32_000.0, "eta": 47})
        s.commit()
    sign_in_as(client, world.admin)
    page = client.get("/admin/packs/").get_data(as_text=True)
    assert "Test pack" in page and "Creative Commons Attribution-ShareAlike 4.0" in page
    assert "Go back to version 1.0.0" in page
    assert '<progress max="2000000" value="500000">' in page and "about 1 min left" in page
    assert 'http-equiv="refresh"' in page  # follows a running transfer
    assert 'href="/admin/packs/"' in client.get("/admin/").get_data(as_text=True)

    r = client.post("/admin/packs/essai/rollback",
                    data={"version": "1.0.0", "csrf_token": _csrf(page)})
    assert r.status_code == 302
    page = client.get("/admin/packs/").get_data(as_text=True)
    assert "Pack essai is back to version 1.0.0." in page
    assert "Go back to version 2.0.0" in page
    r = client.post("/admin/packs/essai/rollback",
                    data={"version": "7.0", "csrf_token": _csrf(page)}, follow_redirects=True)
    assert "Pack essai version 7.0 is not installed." in r.get_data(as_text=True)


def test_usb_packs_are_offered_and_queued_for_the_agent(app: Flask, client: FlaskClient,
                                                        world: World, tmp_path: Path,
                                                        publisher: Publisher) -> None:
    stick = signed_pack(tmp_path / "media" / "CLE" / "ardoise-packs" / "essai", publisher)
    sign_in_as(client, world.admin)
    page = client.get("/admin/packs/").get_data(as_text=True)
    assert str(tmp_path / "media" / "CLE") in page and ">Install</button>" in page
    token = _csrf(page)
    # Only a detected pack may be queued, never a folder typed into the form.
    r = client.post("/admin/packs/usb/install", data={"location": "/etc", "csrf_token": token},
                    follow_redirects=True)
    assert "no longer on a USB stick" in r.get_data(as_text=True)
    r = client.post("/admin/packs/usb/install",
                    data={"location": str(stick), "csrf_token": token}, follow_redirects=True)
    assert "will be installed within a minute" in r.get_data(as_text=True)
    with database(app).sessions() as s:
        assert queued_installs(s) == [{"location": str(stick), "pack": "essai",
                                       "version": "1.0.0"}]
        assert [r.kind for r in device.pending_requests(s)] == ["packs_now"]
    assert client.post("/admin/packs/check", data={"csrf_token": token}).status_code == 302


@pytest.mark.parametrize("role", [Role.STUDENT, Role.TEACHER])
def test_only_administrators_see_it(client: FlaskClient, world: World, role: Role) -> None:
    sign_in_as(client, world.by_role(role))
    assert client.get("/admin/packs/").status_code == 403


@pytest.fixture
def encyclopedia(app: Flask, data_dir: Path, tmp_path: Path, publisher: Publisher) -> None:
    folder = tmp_path / "vikidia"
    write_zim(folder / "vikidia_fr.zim")
    build_manifest(folder, {"id": "vikidia", "version": "1.0.0", "licence": "CC-BY-SA-4.0",
                            "title": {"fr": "Vikidia", "en": "Vikidia"},
                            "publisher": "Vikidia", "subjects": ["francais"]})
    with database(app).sessions() as s:
        install_pack(s, data_dir, publisher.sign(folder), trust=publisher.trust)


def test_zim_articles_are_served_sandboxed(client: FlaskClient, world: World,
                                           encyclopedia: None) -> None:
    home = client.get("/library/zim/vikidia/vikidia-fr/")
    assert home.status_code == 302 and home.headers["Location"].endswith(
        "/library/zim/vikidia/vikidia-fr/Accueil")
    article = client.get("/library/zim/vikidia/vikidia-fr/Beluga")
    assert article.status_code == 200 and "baleine blanche" in article.get_data(as_text=True)
    assert article.headers["Content-Security-Policy"].startswith("sandbox allow-scripts")
    assert article.headers["X-Content-Type-Options"] == "nosniff"
    image = client.get("/library/zim/vikidia/vikidia-fr/img/beluga.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    moved = client.get("/library/zim/vikidia/vikidia-fr/Baleine_blanche")
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/Beluga")
    for missing in ("/library/zim/vikidia/vikidia-fr/Nulle_part",
                    "/library/zim/vikidia/autre/Beluga", "/library/zim/essai/x/Beluga"):
        assert client.get(missing).status_code == 404


def test_zim_search_in_the_library(client: FlaskClient, world: World,
                                   encyclopedia: None) -> None:
    sign_in_as(client, world.students[0])
    page = client.get("/library/r/vikidia/vikidia-fr").get_data(as_text=True)
    assert 'src="/library/zim/vikidia/vikidia-fr/"' in page
    assert 'action="/library/r/vikidia/vikidia-fr/search"' in page
    found = client.get("/library/r/vikidia/vikidia-fr/search?q=baleine").get_data(as_text=True)
    assert "Béluga" in found and "article=Beluga" in found
    opened = client.get("/library/r/vikidia/vikidia-fr?article=Beluga").get_data(as_text=True)
    assert 'src="/library/zim/vikidia/vikidia-fr/Beluga"' in opened
    listing = client.get("/library/search?q=fleuve").get_data(as_text=True)
    assert "Béluga" in listing and "zim-hits" in listing
