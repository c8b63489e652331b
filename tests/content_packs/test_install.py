"""Installing a pack: verified, atomic, and nothing left behind when it is refused."""

from __future__ import annotations

import hashlib
import os
import stat
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.errors import Conflict, NotFound
from content_packs import search
from content_packs.catalog import InstalledPack, Resource, ResourceFile, served_file
from content_packs.install import (
    PackRefused,
    install_pack,
    install_work,
    link_active_versions,
    remove_pack,
)
from content_packs.manifest import ManifestError, read_manifest
from tests.content_packs.packs import build_pack, catalogue, default_resources, edit_manifest, tree


def test_install_copies_verifies_and_records(tmp_path: Path, data_dir: Path,
                                             session: Session) -> None:
    folder = build_pack(tmp_path)
    manifest = read_manifest(folder)
    done: list[int] = []
    pack = install_pack(session, data_dir, folder, progress=done.append)

    assert (pack.pack_id, pack.version, pack.active) == ("essai", "1.0.0", True)
    assert pack.file_count == 8 and pack.total_bytes == manifest.total_bytes
    assert sum(done) == install_work(manifest) == 2 * manifest.total_bytes
    root = data_dir / "packs" / "essai" / "1.0.0"
    for f in manifest.files:
        copy = root / f.path
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == f.sha256
        assert stat.S_IMODE(copy.stat().st_mode) == 0o644
    assert stat.S_IMODE(root.stat().st_mode) == 0o755
    assert os.readlink(data_dir / "packs" / "essai" / "current") == "1.0.0"
    assert not (data_dir / "staging").exists()

    resources = session.scalars(select(Resource).order_by(Resource.position)).all()
    assert [r.uid for r in resources] == [f"essai/{r['id']}" for r in default_resources()]
    ecole = resources[0]
    assert (ecole.kind, ecole.entry, ecole.language) == ("html", "lecons/ecole.html", "fr")
    assert ecole.subjects == "francais" and ecole.cycles == "primaire-2"
    assert ecole.media_type == "text/html; charset=utf-8" and ecole.duration_seconds == 300
    assert resources[-1].language == "en"
    assert len(session.scalars(select(ResourceFile)).all()) == 8
    assert len(catalogue(session)["resource_fts"]) == 8


def _snapshot(data_dir: Path, session: Session) -> tuple[object, object]:
    return tree(data_dir), catalogue(session)


def _refused(tmp_path: Path, data_dir: Path, session: Session, folder: Path,
             error: type[Exception], *needles: str) -> str:
    """Install `folder`, expect `error` naming `needles`, and nothing changed."""
    before = _snapshot(data_dir, session)
    with pytest.raises(error) as err:
        install_pack(session, data_dir, folder)
    assert _snapshot(data_dir, session) == before
    message = err.value.render("en")  # type: ignore[attr-defined]
    for needle in needles:
        assert needle in message
    return message


@pytest.fixture
def installed(tmp_path: Path, data_dir: Path, session: Session) -> Path:
    """A first version installed, so refusals must also leave it untouched."""
    install_pack(session, data_dir, build_pack(tmp_path / "v1"))
    return data_dir


def test_hash_mismatch_is_refused(tmp_path: Path, installed: Path, session: Session) -> None:
    folder = build_pack(tmp_path, version="2.0.0")
    video = folder / "videos" / "film.mp4"
    data = bytearray(video.read_bytes())
    data[5000] ^= 0xFF  # same size, one byte changed
    video.write_bytes(bytes(data))
    _refused(tmp_path, installed, session, folder, PackRefused,
             "essai", "videos/film.mp4", "SHA-256")


def test_hash_mismatch_on_a_first_install_leaves_no_folder(tmp_path: Path, data_dir: Path,
                                                           session: Session) -> None:
    folder = build_pack(tmp_path)
    lesson = folder / "lecons" / "fleuve.html"
    lesson.write_bytes(lesson.read_bytes().replace(b"fleuve", b"FLEUVE"))
    _refused(tmp_path, data_dir, session, folder, PackRefused, "lecons/fleuve.html")
    assert not (data_dir / "packs").exists() and not (data_dir / "staging").exists()


def test_missing_file_is_refused(tmp_path: Path, installed: Path, session: Session) -> None:
    folder = build_pack(tmp_path, version="2.0.0")
    (folder / "audio" / "son.mp3").unlink()
    _refused(tmp_path, installed, session, folder, PackRefused, "audio/son.mp3", "missing")


def test_extra_file_is_refused(tmp_path: Path, installed: Path, session: Session) -> None:
    folder = build_pack(tmp_path, version="2.0.0")
    (folder / "lecons" / "intrus.js").write_text("alert(1)")
    _refused(tmp_path, installed, session, folder, PackRefused,
             "lecons/intrus.js", "not listed")


def test_truncated_file_is_refused_by_size(tmp_path: Path, installed: Path,
                                           session: Session) -> None:
    folder = build_pack(tmp_path, version="2.0.0")
    video = folder / "videos" / "film.mp4"
    video.write_bytes(video.read_bytes()[:1000])
    _refused(tmp_path, installed, session, folder, PackRefused,
             "videos/film.mp4", "1000 bytes")


@pytest.mark.parametrize("bad_path", ["../dehors.html", "/etc/passwd", "lecons\\x.html"])
def test_path_tricks_in_the_manifest_are_refused(tmp_path: Path, installed: Path,
                                                 session: Session, bad_path: str) -> None:
    folder = build_pack(tmp_path, version="2.0.0")
    edit_manifest(folder, lambda d: d["files"][0].__setitem__("path", bad_path))
    _refused(tmp_path, installed, session, folder, ManifestError, "files[0].path")


def test_a_file_symlink_leaving_the_pack_is_refused(tmp_path: Path, installed: Path,
                                                    session: Session) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("Des notes à télécharger.\n")  # same bytes as the listed file
    folder = build_pack(tmp_path, version="2.0.0")
    (folder / "documents" / "notes.txt").unlink()
    (folder / "documents" / "notes.txt").symlink_to(secret)
    _refused(tmp_path, installed, session, folder, PackRefused,
             "documents/notes.txt", "outside the pack")


def test_a_folder_symlink_leaving_the_pack_is_refused(tmp_path: Path, installed: Path,
                                                      session: Session) -> None:
    folder = build_pack(tmp_path, version="2.0.0")
    outside = tmp_path / "outside"
    (folder / "documents").rename(outside)
    (folder / "documents").symlink_to(outside)
    _refused(tmp_path, installed, session, folder, PackRefused, "documents", "outside the pack")


def test_an_unlisted_symlink_leaving_the_pack_is_refused(tmp_path: Path, installed: Path,
                                                         session: Session) -> None:
    folder = build_pack(tmp_path, version="2.0.0")
    (folder / "lien").symlink_to("/etc")
    _refused(tmp_path, installed, session, folder, PackRefused, "lien", "outside the pack")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path, installed: Path,
                                            session: Session) -> None:
    folder = build_pack(tmp_path, version="2.0.0")
    (folder / "audio" / "son.mp3").unlink()
    os.mkfifo(folder / "audio" / "son.mp3")
    _refused(tmp_path, installed, session, folder, PackRefused,
             "audio/son.mp3", "not a regular file")


@pytest.mark.parametrize(("raw", "needle"), [
    (None, "not valid JSON"), (b"\xff\xfe{}", "not UTF-8")], ids=["truncated", "not-utf8"])
def test_unreadable_manifest_is_refused(tmp_path: Path, installed: Path, session: Session,
                                        raw: bytes | None, needle: str) -> None:
    folder = build_pack(tmp_path, version="2.0.0")
    manifest = folder / "manifest.json"
    manifest.write_bytes(raw if raw is not None else manifest.read_bytes()[:300])
    _refused(tmp_path, installed, session, folder, ManifestError, folder.name, needle)


def test_same_version_twice_says_it_is_installed(tmp_path: Path, installed: Path,
                                                 session: Session) -> None:
    message = _refused(tmp_path, installed, session, build_pack(tmp_path / "again"), Conflict)
    assert message == "Pack essai version 1.0.0 is already installed."


def test_failure_after_the_switch_undoes_it(tmp_path: Path, installed: Path, session: Session,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("disk error while indexing")
    monkeypatch.setattr(search, "index_pack", broken)
    before = _snapshot(installed, session)
    with pytest.raises(RuntimeError):
        install_pack(session, installed, build_pack(tmp_path, version="2.0.0"))
    assert _snapshot(installed, session) == before


def test_a_complete_folder_unknown_to_the_database_is_replaced(
        tmp_path: Path, data_dir: Path, session: Session) -> None:
    """A cut between the rename and the commit leaves a folder the database never heard of."""
    stale = data_dir / "packs" / "essai" / "1.0.0"
    stale.mkdir(parents=True)
    (stale / "vieux.txt").write_text("left by a power cut")
    install_pack(session, data_dir, build_pack(tmp_path))
    assert not (stale / "vieux.txt").exists()
    assert (stale / "lecons" / "ecole.html").is_file()


def test_a_new_version_keeps_uids_and_switches_atomically(tmp_path: Path, data_dir: Path,
                                                          session: Session) -> None:
    install_pack(session, data_dir, build_pack(tmp_path / "a"))
    resources = default_resources()
    resources[0]["title"] = {"fr": "L'école du village, 2e édition", "en": "School, 2nd ed."}
    del resources[2]  # the drawing is gone from version 2
    files = {"lecons/ecole.html": "<p>Nouvelle version</p>",
             "lecons/fleuve.html": "<p>Fleuve</p>", "fiches/fiche.pdf": b"%PDF-1.4 v2",
             "audio/son.mp3": b"ID3", "videos/film.mp4": b"\0" * 10,
             "documents/notes.txt": "v2", "lessons/colours.html": "<p>Colours</p>"}
    install_pack(session, data_dir, build_pack(tmp_path / "b", version="2.0.0", files=files,
                                               resources=resources))

    versions = {p.version: p.active for p in session.scalars(select(InstalledPack))}
    assert versions == {"1.0.0": False, "2.0.0": True}
    uids = {r.uid: r for r in session.scalars(select(Resource))}
    assert "essai/ecole" in uids and "essai/dessin" not in uids
    assert uids["essai/ecole"].pack_version == "2.0.0"
    assert uids["essai/ecole"].title_fr == "L'école du village, 2e édition"
    assert os.readlink(data_dir / "packs" / "essai" / "current") == "2.0.0"
    found = served_file(session, data_dir, "essai", "lecons/ecole.html")
    assert found is not None and found.path.read_text() == "<p>Nouvelle version</p>"
    assert served_file(session, data_dir, "essai", "images/dessin.svg") is None
    # The previous version stays on disk (for a rollback); a third one pushes out the first.
    assert (data_dir / "packs" / "essai" / "1.0.0").is_dir()
    install_pack(session, data_dir, build_pack(tmp_path / "c", version="3.0.0", files=files,
                                               resources=resources))
    assert sorted(p.name for p in (data_dir / "packs" / "essai").iterdir()) == [
        "2.0.0", "3.0.0", "current"]
    assert {p.version for p in session.scalars(select(InstalledPack))} == {"2.0.0", "3.0.0"}
    assert {f.version for f in session.scalars(select(ResourceFile))} == {"2.0.0", "3.0.0"}


def test_current_link_is_repaired_from_the_database(tmp_path: Path, data_dir: Path,
                                                    session: Session) -> None:
    install_pack(session, data_dir, build_pack(tmp_path))
    link = data_dir / "packs" / "essai" / "current"
    link.unlink()
    link.symlink_to("0.9")
    link_active_versions(session, data_dir)
    assert os.readlink(link) == "1.0.0"


def test_remove_pack(tmp_path: Path, data_dir: Path, session: Session) -> None:
    install_pack(session, data_dir, build_pack(tmp_path))
    assert remove_pack(session, data_dir, "essai") == ["1.0.0"]
    state = catalogue(session)
    assert state["installed_pack"] == state["resource"] == state["resource_file"] == []
    assert state["resource_fts"] == []
    assert not (data_dir / "packs" / "essai").exists()
    with pytest.raises(NotFound, match="not installed"):
        remove_pack(session, data_dir, "essai")


def test_memory_stays_flat_with_a_large_file(tmp_path: Path, data_dir: Path,
                                             session: Session) -> None:
    big = os.urandom(1024 * 1024) * 24  # 24 MiB
    folder = build_pack(tmp_path, files={"videos/long.mp4": big}, resources=[
        {"id": "long", "kind": "video", "entry": "videos/long.mp4",
         "title": {"fr": "Long", "en": "Long"}}])
    del big
    tracemalloc.start()
    try:
        install_pack(session, data_dir, folder)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * 1024 * 1024, peak
