"""The manifest: every field checked, every refusal naming the pack, the field and why."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from content_packs.manifest import (
    ManifestError,
    Text,
    parse_manifest,
    read_manifest,
    write_manifest,
)
from tests.content_packs.packs import META, build_pack

SHA = "a" * 64


def valid() -> dict[str, Any]:
    return {
        "schema": 1, **copy.deepcopy(META),
        "files": [
            {"path": "lecons/a.html", "sha256": SHA, "size": 10, "media_type": "text/html"},
            {"path": "videos/b.mp4", "sha256": SHA, "size": 99, "media_type": "video/mp4"},
        ],
        "resources": [
            {"id": "a", "kind": "html", "entry": "lecons/a.html",
             "title": {"fr": "Leçon A", "en": "Lesson A"}},
            {"id": "b", "kind": "video", "entry": "videos/b.mp4",
             "title": {"fr": "Vidéo B", "en": "Video B"}, "duration": 12,
             "subjects": ["arts"], "cycles": ["prescolaire"], "language": "en",
             "text": "transcription"},
        ],
    }


def test_a_valid_manifest_is_read_into_dataclasses() -> None:
    m = parse_manifest(valid(), "dossier")
    assert (m.id, m.version, m.language, m.licence) == ("essai", "1.0.0", "fr", "CC-BY-SA-4.0")
    assert m.title == Text("Paquet d'essai", "Test pack")
    assert m.title.get("en") == "Test pack" and m.title.get("fr_CA") == "Paquet d'essai"
    assert m.file("videos/b.mp4").size == 99
    assert m.total_bytes == 109
    a, b = m.resources
    # A resource without its own subjects, cycles or language takes the pack's.
    assert a.subjects == ("francais", "science-technologie") and a.language == "fr"
    assert a.description == Text("", "") and a.duration is None
    assert b.subjects == ("arts",) and b.cycles == ("prescolaire",) and b.language == "en"
    assert b.duration == 12 and b.text == "transcription"
    assert parse_manifest(json.loads(m.to_json()), "x") == m


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return change


_DELETE = object()

BAD_FIELDS = [
    ("schema", 2, "schema", "schema 1"),
    ("schema", True, "schema", "schema 1"),
    ("id", _DELETE, "id", "is missing"),
    ("id", "Mon Paquet", "id", "lowercase letters"),
    ("id", "a" * 65, "id", "lowercase letters"),
    ("version", "../1", "version", "version such as"),
    ("version", 3, "version", "version such as"),
    ("title", "Titre", "title", "\"fr\" and \"en\""),
    ("title.en", _DELETE, "title.en", "is missing"),
    ("title.fr", "  ", "title.fr", "must not be empty"),
    ("title.fr", "x" * 301, "title.fr", "at most 300"),
    ("description", _DELETE, "description", "is missing"),
    ("language", "français", "language", "language code"),
    ("subjects", "francais", "subjects", "must be a list"),
    ("subjects", ["math"], "subjects[0]", "known code"),
    ("cycles", ["primaire-4"], "cycles[0]", "known code"),
    ("licence", "GPL-3.0", "licence", "Creative Commons"),
    ("licence", "CC-BY", "licence", "Creative Commons"),
    ("publisher", "", "publisher", "must not be empty"),
    ("files", {}, "files", "must be a list"),
    ("files", [], "files", "must not be empty"),
    ("files.0", "lecons/a.html", "files[0]", "must be an object"),
    ("files.0.path", "../../etc/passwd", "files[0].path", "'..'"),
    ("files.0.path", "/etc/passwd", "files[0].path", "relative"),
    ("files.0.path", "lecons\\a.html", "files[0].path", "backslash"),
    ("files.0.path", "lecons//a.html", "files[0].path", "empty"),
    ("files.0.path", "C:/a.html", "files[0].path", "backslash"),
    ("files.0.path", "manifest.json", "files[0].path", "reserves"),
    ("files.0.path", "videos/B.MP4", "files[1].path", "listed twice"),
    ("files.0.path", "videos", "files[0].path", "both a file and a folder"),
    ("files.0.path", "lecons/e\u0301cole.html", "files[0].path", "NFC"),
    ("files.0.sha256", "xyz", "files[0].sha256", "hexadecimal"),
    ("files.0.sha256", "A" * 64, "files[0].sha256", "hexadecimal"),
    ("files.0.size", -1, "files[0].size", "zero or more"),
    ("files.0.size", "10", "files[0].size", "whole number"),
    ("files.0.size", True, "files[0].size", "whole number"),
    ("files.0.media_type", "html", "files[0].media_type", "media type"),
    ("resources", [], "resources", "must not be empty"),
    ("resources.1.id", "a", "resources[1].id", "two resources"),
    ("resources.0.kind", "game", "resources[0].kind", "known kind"),
    ("resources.0.entry", "lecons/absent.html", "resources[0].entry", "listed in files"),
    ("resources.0.entry", "videos/b.mp4", "resources[0].entry", "does not suit"),
    ("resources.0.title", _DELETE, "resources[0].title", "is missing"),
    ("resources.1.duration", -5, "resources[1].duration", "zero or more"),
    ("resources.1.duration", 1.5, "resources[1].duration", "whole number"),
    ("resources.1.subjects", ["histoire"], "resources[1].subjects[0]", "known code"),
    ("resources.1.language", "english", "resources[1].language", "language code"),
    ("resources.1.text", 42, "resources[1].text", "must be text"),
]


@pytest.mark.parametrize(("path", "value", "field", "problem"), BAD_FIELDS,
                         ids=[f"{p}={v!r}"[:40] for p, v, _f, _p in BAD_FIELDS])
def test_each_bad_field_is_refused_naming_pack_and_field(path: str, value: Any, field: str,
                                                          problem: str) -> None:
    data = valid()
    _set(path, value)(data)
    with pytest.raises(ManifestError) as err:
        parse_manifest(data, "dossier")
    message = err.value.render("en")
    pack = "dossier" if path in ("id",) else "essai"
    assert f"Pack {pack}" in message or path == "schema"
    assert f"field {field} " in message
    assert problem in message


def test_errors_are_translated_including_the_problem() -> None:
    data = valid()
    data["files"][0]["size"] = -1
    with pytest.raises(ManifestError) as err:
        parse_manifest(data, "dossier")
    fr = err.value.render("fr_CA")
    assert "essai" in fr and "files[0].size" in fr
    assert "zéro ou plus" in fr
    assert "must" not in fr


def test_unknown_top_level_keys_are_ignored_for_later_formats() -> None:
    data = valid()
    data["signature"] = {"key": "later"}
    assert parse_manifest(data, "x").id == "essai"


def _write(folder: Path, raw: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_bytes(raw)
    return folder


def test_read_manifest_accepts_a_bom(tmp_path: Path) -> None:
    folder = _write(tmp_path / "p", b"\xef\xbb\xbf" + json.dumps(valid()).encode())
    assert read_manifest(folder).id == "essai"


@pytest.mark.parametrize(("raw", "needle"), [
    (json.dumps(valid()).encode()[:200], "not valid JSON (line 1, column"),
    (json.dumps(valid(), ensure_ascii=False).encode("latin-1"), "not UTF-8"),
    (b"", "not valid JSON"),
    (b'{"schema": 1, "schema": 1}', "the key schema twice"),
    (b'{"schema": NaN}', "NaN"),
    (b"[1, 2]", "must be a JSON object"),
], ids=["truncated", "latin-1", "empty", "duplicate-key", "nan", "list"])
def test_unreadable_manifests_are_refused_naming_the_folder(tmp_path: Path, raw: bytes,
                                                            needle: str) -> None:
    folder = _write(tmp_path / "mon-paquet", raw)
    with pytest.raises(ManifestError) as err:
        read_manifest(folder)
    message = err.value.render("en")
    assert "mon-paquet" in message and needle in message


def test_truncated_manifest_says_what_to_do_in_french(tmp_path: Path) -> None:
    folder = _write(tmp_path / "mon-paquet", json.dumps(valid()).encode()[:50])
    with pytest.raises(ManifestError) as err:
        read_manifest(folder)
    assert "copiez" in err.value.render("fr_CA").lower()


def test_missing_manifest_and_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "vide").mkdir()
    with pytest.raises(ManifestError, match=r"no manifest\.json"):
        read_manifest(tmp_path / "vide")
    with pytest.raises(ManifestError, match="is not a folder"):
        read_manifest(tmp_path / "absent")


def test_a_linked_manifest_is_refused(tmp_path: Path) -> None:
    elsewhere = _write(tmp_path / "ailleurs", json.dumps(valid()).encode())
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "manifest.json").symlink_to(elsewhere / "manifest.json")
    with pytest.raises(ManifestError, match="regular file"):
        read_manifest(folder)


def test_write_manifest_hashes_every_file(tmp_path: Path) -> None:
    folder = build_pack(tmp_path)
    m = read_manifest(folder)
    assert {f.path for f in m.files} == {
        "lecons/ecole.html", "lecons/fleuve.html", "images/dessin.svg", "fiches/fiche.pdf",
        "audio/son.mp3", "videos/film.mp4", "documents/notes.txt", "lessons/colours.html"}
    html = m.file("lecons/ecole.html")
    assert html.media_type == "text/html; charset=utf-8"
    assert html.size == (folder / "lecons/ecole.html").stat().st_size
    import hashlib
    assert html.sha256 == hashlib.sha256((folder / "lecons/ecole.html").read_bytes()).hexdigest()
    assert m.file("videos/film.mp4").media_type == "video/mp4"
    assert m.file("images/dessin.svg").media_type == "image/svg+xml"
    assert not (folder / ".manifest.json.tmp").exists()


def test_write_manifest_refuses_a_bad_description_and_keeps_the_old_one(tmp_path: Path
                                                                       ) -> None:
    folder = build_pack(tmp_path)
    before = (folder / "manifest.json").read_bytes()
    with pytest.raises(ManifestError, match="licence"):
        write_manifest(folder, {**META, "licence": "tous droits réservés"}, [])
    assert (folder / "manifest.json").read_bytes() == before
