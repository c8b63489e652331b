"""The type of a hand-in comes from its first bytes; names are made safe."""

from __future__ import annotations

import pytest

from ardoise.errors import UnsupportedType
from hub.classwork.filetypes import (
    AAC,
    GIF,
    HEIC,
    HEIF,
    JPEG,
    MP4,
    MPEG,
    OGG,
    PDF,
    PNG,
    WAV,
    WEBM,
    WEBP,
    FileType,
    require_accepted,
    safe_filename,
    sniff,
)
from tests.hub.classwork import samples


@pytest.mark.parametrize(("data", "kind"), [
    (samples.JPEG, JPEG), (samples.PNG, PNG), (samples.GIF, GIF), (samples.WEBP, WEBP),
    (samples.HEIC, HEIC), (samples.HEIF, HEIF), (samples.M4A, MP4), (samples.WEBM, WEBM),
    (samples.OGG, OGG), (samples.MP3_ID3, MPEG), (samples.MP3_FRAME, MPEG),
    (samples.AAC, AAC), (samples.PDF, PDF), (samples.wav(), WAV),
])
def test_accepted_kinds_are_recognised(data: bytes, kind: FileType) -> None:
    assert sniff(data) is kind


@pytest.mark.parametrize("data", [samples.TEXT, samples.HTML, samples.SVG, samples.AVIF,
                                  samples.MKV, b"", b"\xff", b"PK\x03\x04zip"])
def test_other_content_is_refused(data: bytes) -> None:
    assert sniff(data) is None


def test_refusal_lists_accepted_types_in_french_and_english() -> None:
    with pytest.raises(UnsupportedType) as info:
        require_accepted(samples.TEXT, "photo.jpg")
    assert info.value.status == 415
    en = info.value.render("en")
    assert "photo.jpg" in en and "JPEG" in en and "PDF" in en and "MP3" in en
    fr = info.value.render("fr_CA")
    assert "photo.jpg" in fr and "HEIC" in fr and fr != en


@pytest.mark.parametrize(("name", "kind", "expected"), [
    ("photo.jpg", JPEG, "photo.jpg"),
    ("Devoir de français.JPEG", JPEG, "Devoir de français.JPEG"),
    ("../../etc/passwd", PDF, "passwd.pdf"),
    ("C:\\Users\\élève\\rédaction.pdf", PDF, "rédaction.pdf"),
    ("image.jpg", HEIC, "image.jpg.heic"),
    ("blob", MP4, "blob.m4a"),
    (".hidden.png", PNG, "hidden.png"),
    ("a\x00b\nc<script>.png", PNG, "abc_script.png"),
    ("", JPEG, "file.jpg"),
    (None, PDF, "file.pdf"),
])
def test_safe_filename(name: str | None, kind: FileType, expected: str) -> None:
    assert safe_filename(name, kind) == expected


def test_safe_filename_caps_length_and_keeps_extension() -> None:
    name = safe_filename("x" * 500 + ".png", PNG)
    assert len(name) <= 120 and name.endswith(".png")
