"""`pack build` (classification, titles, durations, stable ids) and publisher keys."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest

from ardoise.errors import SettingsError
from content_packs.build import build_manifest, media_duration
from content_packs.errors import PackRefused
from content_packs.signing import (
    MANIFEST_CONTEXT,
    Trust,
    fingerprint,
    load_trust,
    public_raw,
    signature_document,
)
from tests.content_packs.keys import Publisher

META = {"id": "sciences", "version": "1.0.0", "title": {"fr": "Sciences", "en": "Science"},
        "licence": "CC-BY-4.0", "publisher": "RÉCIT"}


def _mp4(seconds: int) -> bytes:
    mvhd = struct.pack(">I4sB3xIIII", 8 + 4 + 16, b"mvhd", 0, 0, 0, 600, 600 * seconds)
    moov = struct.pack(">I4s", 8 + len(mvhd), b"moov") + mvhd
    ftyp = struct.pack(">I4s4s", 16, b"ftyp", b"isom") + b"\0" * 4
    mdat = struct.pack(">I4s", 8 + 1000, b"mdat") + b"\0" * 1000
    return ftyp + mdat + moov


def _wav(seconds: int, rate: int = 8000) -> bytes:
    data = b"\0" * (rate * seconds)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack(
        "<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _mp3(seconds: int) -> bytes:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417-byte frames, constant bit rate.
    frame = bytes([0xFF, 0xFB, 0x90, 0x00]) + b"\0" * 413
    count = seconds * 128_000 // 8 // 417
    return b"ID3\x03\x00\x00\x00\x00\x00\x0a" + b"\0" * 10 + frame * count


def test_durations_are_read_from_headers(tmp_path: Path) -> None:
    for name, data, media_type, seconds in [
            ("a.mp4", _mp4(95), "video/mp4", 95), ("b.wav", _wav(3), "audio/wav", 3),
            ("c.mp3", _mp3(4), "audio/mpeg", 4), ("d.mp4", b"not a video", "video/mp4", None),
            ("e.ogg", b"OggS", "audio/ogg", None)]:
        path = tmp_path / name
        path.write_bytes(data)
        assert media_duration(path, media_type) == seconds, name


def test_build_classifies_titles_and_keeps_ids(tmp_path: Path) -> None:
    folder = tmp_path / "sciences"
    files = {
        "lecons/eau.html": "<html><head><title>Le cycle de l'eau</title></head><body>"
                           "<img src='../images/schema.png'><audio src=\"son.mp3\"></audio>"
                           "</body></html>",
        "lecons/son.mp3": _mp3(2),
        "images/schema.png": b"\x89PNG\r\n\x1a\n",
        "images/affiche.png": b"\x89PNG\r\n\x1a\n!",
        "activite/index.html": "<h1>Jeu des états</h1><script src='jeu.js'></script>",
        "activite/page2.html": "<p>Suite</p>",
        "activite/jeu.js": "var x = 1;",
        "videos/fonte-glaciers.mp4": _mp4(61),
        "fiche.pdf": b"%PDF-1.4\n%%EOF\n",
        "notes.odt": b"PK\x03\x04",
        "mystere.bin9": b"?",
    }
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    report = build_manifest(folder, META)
    resources = {r.entry: r for r in report.manifest.resources}
    assert set(resources) == {"lecons/eau.html", "images/affiche.png", "activite/index.html",
                              "videos/fonte-glaciers.mp4", "fiche.pdf", "notes.odt"}
    assert resources["lecons/eau.html"].title.fr == "Le cycle de l'eau"
    assert resources["activite/index.html"].title.fr == "Jeu des états"
    assert resources["activite/index.html"].id == "activite-index"
    assert resources["videos/fonte-glaciers.mp4"].duration == 61
    assert resources["videos/fonte-glaciers.mp4"].title.fr == "Fonte glaciers"
    assert resources["notes.odt"].kind == "document"
    assert report.unclassified == ["mystere.bin9"]
    assert sorted(report.untitled) == ["fiche.pdf", "images/affiche.png", "notes.odt",
                                       "videos/fonte-glaciers.mp4"]
    assert len(report.manifest.files) == len(files)

    # A better title written by hand survives the next build, and so do the ids.
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"Fiche"', '"Fiche de fractions"'))
    (folder / "notes.odt").unlink()
    (folder / "nouveau.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n\n")
    again = build_manifest(folder, {"version": "1.1.0"})
    assert again.manifest.version == "1.1.0" and again.manifest.id == "sciences"
    by_entry = {r.entry: r for r in again.manifest.resources}
    assert by_entry["fiche.pdf"].title.fr == "Fiche de fractions"
    assert again.added == ["nouveau"] and again.removed == ["notes"]


def test_build_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.pdf").write_bytes(b"%PDF")
    with pytest.raises(ValueError) as err:
        build_manifest(tmp_path / "x", {"id": "x"})
    assert "--version, --title, --licence, --publisher" in str(err.value)
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "only.css").write_text("a{}")
    with pytest.raises(ValueError, match="No resource found"):
        build_manifest(tmp_path / "y", META)


def test_trusted_keys_from_folders_files_and_inline(tmp_path: Path, publisher: Publisher,
                                                    forger: Publisher) -> None:
    folder = tmp_path / "trusted-publishers"
    folder.mkdir()
    (folder / "01-recit.pub").write_text(publisher.public_path.read_text())
    inline = base64.b64encode(public_raw(forger.key)).decode()
    trust = load_trust(f"{folder}, /nonexistent/folder, eer:{inline}")
    assert set(trust.keys) == {fingerprint(public_raw(publisher.key)),
                               fingerprint(public_raw(forger.key))}
    assert load_trust(str(publisher.public_path)).keys == publisher.trust.keys
    (folder / "02-bad.pub").write_text("pas une clé")
    with pytest.raises(SettingsError, match=r"02-bad\.pub"):
        load_trust(str(folder))
    with pytest.raises(SettingsError, match="neither a key"):
        load_trust("n'importe quoi")


def test_signature_checks(publisher: Publisher, forger: Publisher) -> None:
    data = b'{"id": "essai"}'
    good = signature_document(publisher.key, data, MANIFEST_CONTEXT)
    assert publisher.trust.check("essai", data, good) == fingerprint(public_raw(publisher.key))
    with pytest.raises(PackRefused, match="does not match"):
        publisher.trust.check("essai", data + b" ", good)
    with pytest.raises(PackRefused, match="does not trust"):
        publisher.trust.check("essai", data, signature_document(forger.key, data,
                                                                MANIFEST_CONTEXT))
    with pytest.raises(PackRefused, match="damaged"):
        publisher.trust.check("essai", data, b"garbage")
    with pytest.raises(PackRefused, match="has no signature"):
        publisher.trust.check("essai", data, None)
    assert Trust(publisher.trust.keys, allow_unsigned=True).check("essai", data, None) is None
    # A manifest's signature is not an index's.
    from content_packs.signing import INDEX_CONTEXT

    with pytest.raises(PackRefused, match="does not match"):
        publisher.trust.check("essai", data, good, context=INDEX_CONTEXT)
