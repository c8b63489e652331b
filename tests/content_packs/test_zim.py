"""ZIM archives in a pack: built by `pack build`, installed like any file, read and searched
through libzim."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from ardoise.errors import Invalid
from content_packs import zim
from content_packs.build import build_manifest
from content_packs.install import install_pack
from tests.content_packs.keys import Publisher
from tests.content_packs.zimfile import PNG, write_zim

META = {"id": "vikidia", "version": "1.0.0", "title": {"fr": "Vikidia", "en": "Vikidia"},
        "licence": "CC-BY-SA-4.0", "publisher": "Vikidia"}


@pytest.fixture
def zim_pack(tmp_path: Path, publisher: Publisher) -> Path:
    folder = tmp_path / "vikidia"
    write_zim(folder / "vikidia_fr.zim")
    report = build_manifest(folder, META)
    assert [(r.id, r.kind, r.title.fr) for r in report.manifest.resources] == [
        ("vikidia-fr", "zim", "Vikidia d'essai")]
    assert report.manifest.resources[0].description.fr == (
        "Une petite encyclopédie pour les tests")
    assert report.manifest.files[0].media_type == "application/x-zim"
    return publisher.sign(folder)


def test_articles_are_read_and_searched_from_the_installed_pack(
        zim_pack: Path, data_dir: Path, session: Session, publisher: Publisher) -> None:
    install_pack(session, data_dir, zim_pack, trust=publisher.trust)
    archive = zim.archive_for(session, data_dir, "vikidia", "vikidia-fr")
    assert archive == data_dir / "packs" / "vikidia" / "1.0.0" / "vikidia_fr.zim"
    assert zim.archive_for(session, data_dir, "vikidia", "autre") is None
    assert zim.main_path(archive) == "Accueil"
    beluga = zim.article(archive, "Beluga")
    assert isinstance(beluga, zim.ZimArticle)
    assert beluga.title == "Béluga" and beluga.mimetype == "text/html"
    assert "baleine blanche" in beluga.content.decode()
    assert zim.article(archive, "Baleine_blanche") == "Beluga"  # a redirect
    picture = zim.article(archive, "img/beluga.png")
    assert isinstance(picture, zim.ZimArticle) and picture.content == PNG
    assert zim.article(archive, "Nulle_part") is None

    total, hits = zim.search(archive, "baleine")
    assert total == 1 and [(h.path, h.title) for h in hits] == [("Beluga", "Béluga")]
    assert [h.path for h in zim.search(archive, "phare côte")[1]] == ["Phare"]
    assert zim.search(archive, "   ") == (0, [])
    found = zim.search_library(session, data_dir, "fleuve")
    assert [(r.uid, [h.path for h in hits]) for r, _n, hits in found] == [
        ("vikidia/vikidia-fr", ["Beluga"])]


def test_a_damaged_archive_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zim"
    bad.write_bytes(b"ZIM\x04" + b"\0" * 100)
    with pytest.raises(Invalid, match="not a readable ZIM archive"):
        zim.main_path(bad)
