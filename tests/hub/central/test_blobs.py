"""Student files travel after the records, in chunks, resumed after a cut, once."""

from __future__ import annotations

import datetime as dt
import hashlib
import html as html_lib
import os
from types import SimpleNamespace

from flask import Flask
from sqlalchemy import select, update

from hub import create_app
from hub.db import database
from hub.models import User
from hub.sync_registry import registry
from sync import blobs, hubside, signing
from sync.tables import SyncBlobMissing
from tests.factories import sign_in_as
from tests.hub.central.conftest import Central, HubSide
from tests.hub.central.handins import hand_in_on_hub
from tests.hub.central.test_end_to_end import _post


def _with_file(central: Central, hub_side: HubSide, size: int) -> tuple[str, bytes]:
    data = os.urandom(size)
    _, sha, _ = hand_in_on_hub(central, hub_side, data)
    return sha, data


def test_file_is_sent_in_chunks_resumed_and_not_twice(central: Central, hub_side: HubSide
                                                      ) -> None:
    sha, data = _with_file(central, hub_side, 200_000)
    central_dir = central.app.extensions["ardoise.settings"].data_dir
    # a previous attempt was cut after 70,000 bytes
    part = blobs._part_path(central_dir, sha)
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(data[:70_000])
    stats = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert stats.extra["files"] == {"files": 1, "bytes": 130_000, "already": 0, "smaller": 0}
    assert blobs.blob_path(central_dir, sha).read_bytes() == data
    assert not part.exists()
    again = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert "files" not in again.extra or again.extra["files"]["bytes"] == 0


def test_unreferenced_or_wrong_files_are_refused(central: Central, hub_side: HubSide) -> None:
    _with_file(central, hub_side, 1000)
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    enr = hubside.enrollment(hub_side.engine)
    assert enr is not None
    key = signing.load_or_create_key(hubside.key_path(hub_side.data_dir))
    other = hashlib.sha256(b"not a student file").hexdigest()
    path = f"/api/v1/sync/blobs/{other}?offset=0&size=19"
    status, raw = _post(central, path, b"not a student file",
                        signing.sign(key, enr.hub_id, "POST", path, b"not a student file"))
    assert status == 403 and b"out_of_scope" in raw
    central_dir = central.app.extensions["ardoise.settings"].data_dir
    assert not blobs.blob_path(central_dir, other).exists()


def test_a_hub_that_lost_its_files_gets_them_back(central: Central, hub_side: HubSide
                                                  ) -> None:
    sha, data = _with_file(central, hub_side, 150_000)
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)  # sent up
    blobs.blob_path(hub_side.data_dir, sha).unlink()  # the card was re-flashed, say
    part = blobs._part_path(hub_side.data_dir, sha).with_suffix(".down")
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(data[:10_000])  # and a first download was cut
    stats = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert stats.extra["files_down"] == {"files": 1, "bytes": 140_000, "unavailable": 0,
                                         "waiting": 0}
    assert blobs.blob_path(hub_side.data_dir, sha).read_bytes() == data
    again = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert again.extra["files_down"]["bytes"] == 0 and again.requests == 1


def test_a_file_nobody_holds_is_asked_for_after_a_pause_and_shown(
        central: Central, hub_side: HubSide) -> None:
    sha, data = _with_file(central, hub_side, 5000)
    blobs.blob_path(hub_side.data_dir, sha).unlink()  # lost before it could be sent
    first = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert first.extra["files_down"] == {"files": 0, "bytes": 0, "unavailable": 1,
                                         "waiting": 0}
    # the next syncs do not ask again (one request: the round) ...
    second = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert second.extra["files_down"]["waiting"] == 1 and second.extra["requests"] == 1
    # ... until the pause is over: an hour after the first miss, then longer
    _asked_ago(hub_side, dt.timedelta(minutes=61))
    third = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert third.extra["files_down"]["unavailable"] == 1
    _asked_ago(hub_side, dt.timedelta(minutes=61))  # the second pause is two hours
    assert hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir
                            ).extra["files_down"]["waiting"] == 1
    with hub_side.engine.connect() as conn:
        (record,) = blobs.missing_files(conn)
    assert record["asks"] == 2
    assert record["next_ask_at"] - record["last_asked_at"] == dt.timedelta(hours=2)
    # the sync page says it in plain words, with details for the class's teacher only
    app = create_app({"TESTING": True, "data_dir": str(hub_side.data_dir)})
    try:
        world = _world_of(hub_side)
        html = _sync_page(app, world.teacher)
        assert "1 handed-in file is neither on this hub nor at the service centre" in html
        assert "photo.jpg, handed in by Élève 0 (5e année, Photo)" in html
        other = _sync_page(app, world.other_teacher)
        assert "neither on this hub" in other and "photo.jpg" not in other
        assert "classes you do not teach" in other
        # another hub of the school sends it to the central: at the next try, it arrives
        central_dir = central.app.extensions["ardoise.settings"].data_dir
        blobs.blob_path(central_dir, sha).parent.mkdir(parents=True, exist_ok=True)
        blobs.blob_path(central_dir, sha).write_bytes(data)
        _asked_ago(hub_side, dt.timedelta(hours=3))
        found = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
        assert found.extra["files_down"]["files"] == 1
        assert blobs.blob_path(hub_side.data_dir, sha).read_bytes() == data
        with hub_side.engine.connect() as conn:
            assert blobs.missing_files(conn) == []
        assert "missing-files" not in _sync_page(app, world.teacher)
    finally:
        database(app).engine.dispose()


def _asked_ago(hub_side: HubSide, ago: dt.timedelta) -> None:
    with hub_side.engine.begin() as conn:
        conn.execute(update(SyncBlobMissing.__table__).values(
            last_asked_at=dt.datetime.now(dt.UTC) - ago))


def _world_of(hub_side: HubSide) -> SimpleNamespace:
    with hub_side.sessions() as s:
        users = {u.username: u for u in s.scalars(select(User))}
    return SimpleNamespace(teacher=users["mme.roy"], other_teacher=users["m.cote"])


def _sync_page(app: Flask, user: User) -> str:
    client = app.test_client()
    sign_in_as(client, user)
    with client.session_transaction() as sess:
        sess["lang"] = "en"
    page = client.get("/sync")
    assert page.status_code == 200
    return html_lib.unescape(page.get_data(as_text=True))
