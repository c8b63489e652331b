"""Large photos go to the central as a smaller JPEG (sync_photo_max_px); the hub keeps the
original; the central, its pages, its orphan collector and other hubs find the file by the
hash its row names (an alias)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from hub.classwork.blobs import BlobStore, collect_orphans
from hub.models import SubmissionFile
from hub.sync_registry import registry
from sync import blobs, hubside, signing
from sync.client import HttpTransport, SyncUnavailable, sync_round
from sync.photos import PhotoShrinker, smaller_jpeg
from sync.scope import Scope
from sync.tables import SyncBlobAlias
from tests.factories import World, sign_in_as
from tests.hub.central.conftest import Central, HubSide
from tests.hub.central.handins import hand_in_on_hub

ORIENTATION = 0x0112


def _jpeg(size: tuple[int, int], *, noise: bool = False, orientation: int | None = None,
          quality: int = 92) -> bytes:
    w, h = size
    if noise:  # a photo's detail: compresses about as badly as a real one
        im = Image.frombytes("RGB", size, os.urandom(w * h * 3))
    else:
        im = Image.new("RGB", size, (0, 0, 255))
        im.paste((255, 0, 0), (0, 0, w // 10, h // 10))  # a red corner, top left as stored
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
        exif[0x010F] = "Tablette"  # the camera's maker: metadata that must not travel
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def test_a_photo_is_shrunk_upright_never_enlarged(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(_jpeg((2000, 1000), orientation=6))  # taken holding the tablet upright
    data = smaller_jpeg(big, 800)
    assert data is not None and len(data) < big.stat().st_size
    shown = Image.open(io.BytesIO(data))
    assert shown.format == "JPEG" and shown.size == (400, 800)  # portrait, longer side 800
    assert ORIENTATION not in shown.getexif() and 0x010F not in shown.getexif()
    r, _, b = shown.getpixel((shown.size[0] - 5, 5))  # the red corner is now top right
    assert r > 200 and b < 60
    assert smaller_jpeg(big, 2000) is None  # fits already: never enlarged
    assert smaller_jpeg(big, 0) is None  # setting off


def test_only_photos_that_get_smaller_are_shrunk(tmp_path: Path) -> None:
    rgba = tmp_path / "drawing.png"
    Image.frombytes("RGBA", (1200, 900), os.urandom(1200 * 900 * 4)).save(rgba)
    data = smaller_jpeg(rgba, 600)
    assert data is not None
    assert Image.open(io.BytesIO(data)).mode == "RGB"  # transparency flattened for JPEG
    stripes = tmp_path / "stripes.png"  # a few KB as PNG, more as any JPEG
    im = Image.new("1", (4000, 4000), 0)
    for x in range(0, 4000, 2):
        im.paste(1, (x, 0, x + 1, 4000))
    im.save(stripes)
    assert smaller_jpeg(stripes, 1600) is None
    pdf = tmp_path / "work.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + os.urandom(50_000))
    assert smaller_jpeg(pdf, 100) is None
    gif = tmp_path / "anim.gif"
    frames = [Image.new("P", (2000, 2000), i) for i in range(3)]
    frames[0].save(gif, save_all=True, append_images=frames[1:])
    assert smaller_jpeg(gif, 100) is None  # not a format that is shrunk


def _hand_in(central: Central, hub_side: HubSide, data: bytes, filename: str = "photo.jpg"
             ) -> tuple[World, str, SubmissionFile]:
    return hand_in_on_hub(central, hub_side, data, filename, language="en")


def test_a_large_photo_travels_small_and_is_found_by_its_hash(central: Central,
                                                              hub_side: HubSide) -> None:
    original = _jpeg((2400, 1800), noise=True)
    world, sha, row = _hand_in(central, hub_side, original)
    stats = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir, photo_max_px=800)
    files = stats.extra["files"]
    assert files["files"] == files["smaller"] == 1
    assert files["bytes"] < len(original) / 4
    central_dir = Path(central.app.extensions["ardoise.settings"].data_dir)
    # the central holds the smaller JPEG under its own hash, and the alias
    with central.sessions() as s:
        alias = s.get(SyncBlobAlias, sha)
    assert alias is not None and alias.media_type == "image/jpeg"
    stored = blobs.blob_path(central_dir, alias.stored_sha256).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == alias.stored_sha256 != sha
    assert max(Image.open(io.BytesIO(stored)).size) == 800
    assert not blobs.blob_path(central_dir, sha).exists()
    # the hub keeps its original, and the smaller copy it made is gone once sent
    assert blobs.blob_path(hub_side.data_dir, sha).read_bytes() == original
    assert not any((hub_side.data_dir / "staging" / "sync-photos").glob("*"))
    again = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir, photo_max_px=800)
    assert "files" not in again.extra or again.extra["files"]["bytes"] == 0
    # the central's teachers open the hand-in through its row: the JPEG, as a JPEG
    client = central.app.test_client()
    sign_in_as(client, world.teacher)
    page = client.get(f"/teacher/files/{row.id}")
    try:
        assert page.status_code == 200 and page.mimetype == "image/jpeg"
        assert page.get_data() == stored
        assert page.headers["Content-Disposition"] == "inline; filename=photo.jpg"
    finally:
        page.close()
    # the central's orphan collector keeps it (its hash is named by no row, only the alias)
    with central.sessions() as s:
        removed = collect_orphans(s, BlobStore.in_data_dir(central_dir),
                                  max_age=dt.timedelta(0))
    assert alias.stored_sha256 not in removed
    assert blobs.blob_path(central_dir, alias.stored_sha256).exists()
    # a hub that lost the file (re-flashed) gets the smaller form back, with the alias
    blobs.blob_path(hub_side.data_dir, sha).unlink()
    back = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert back.extra["files_down"]["files"] == 1
    assert blobs.blob_path(hub_side.data_dir, alias.stored_sha256).read_bytes() == stored
    assert blobs.missing_here(hub_side.engine, registry(), _scope(hub_side),
                              hub_side.data_dir) == []
    quiet = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert quiet.extra["files_down"] == {"files": 0, "bytes": 0, "unavailable": 0,
                                         "waiting": 0}


def _scope(hub_side: HubSide) -> Scope:
    enr = hubside.enrollment(hub_side.engine)
    assert enr is not None
    return enr.scope


def test_a_cut_smaller_photo_resumes_with_the_same_bytes(central: Central,
                                                         hub_side: HubSide) -> None:
    original = _jpeg((2400, 1800), noise=True)
    _, sha, _ = _hand_in(central, hub_side, original)
    enr = hubside.enrollment(hub_side.engine)
    assert enr is not None and enr.central_instance is not None
    key = signing.load_or_create_key(hubside.key_path(hub_side.data_dir))
    transport = HttpTransport(central.url, enr.hub_id, key, language="en")
    assert sync_round(hub_side.engine, registry(), transport, enr.scope,
                      enr.central_instance).pushed_rows == 2  # the rows first
    calls = []

    def cut_after_two_chunks(path: str, body: bytes) -> tuple[int, bytes]:
        calls.append(path)
        if len(calls) > 3:  # the list of files, then two chunks
            raise SyncUnavailable("link cut")
        return transport.call(path, body)

    shrink = PhotoShrinker(hub_side.data_dir, 800)
    with pytest.raises(SyncUnavailable):
        blobs.upload(hub_side.engine, registry(), enr.scope, hub_side.data_dir,
                     enr.central_instance, cut_after_two_chunks, shrink=shrink)
    made = shrink.cached(sha)
    assert made is not None
    size = made.path.stat().st_size
    assert size > 2 * blobs.CHUNK
    # the next attempt (another process: a new shrinker) sends only the rest of that JPEG
    stats = blobs.upload(hub_side.engine, registry(), enr.scope, hub_side.data_dir,
                         enr.central_instance, transport.call,
                         shrink=PhotoShrinker(hub_side.data_dir, 800))
    transport.close()
    assert stats["files"] == 1 and stats["bytes"] == size - 2 * blobs.CHUNK
    with central.sessions() as s:
        assert s.scalars(select(SyncBlobAlias.stored_sha256)).one() == made.sha256
