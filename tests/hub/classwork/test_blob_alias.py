"""A photo held only as the smaller JPEG the sync made of it (an alias): the orphan
collector keeps that JPEG, and the file's row opens it, served as a JPEG."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from ardoise.errors import Invalid
from hub.classwork.blobs import BlobStore, collect_orphans
from hub.classwork.submissions import Upload, file_for, hand_in
from hub.models import SubmissionFile
from sync import blobs
from tests.factories import World, make_assignment, sign_in_as
from tests.hub.classwork import samples


def _put(store: BlobStore, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    store.blobs_dir.mkdir(parents=True, exist_ok=True)
    store.path(sha).write_bytes(data)
    return sha


def test_alias_keeps_the_smaller_form_and_opens_it(app: Flask, world: World, session: Session,
                                                   data_dir: Path) -> None:
    store = BlobStore.in_data_dir(data_dir)
    a = make_assignment(app, world)
    sub = hand_in(session, store, world.students[0], a.id, text="", max_bytes=1 << 20,
                  uploads=[Upload("tableau.png", io.BytesIO(samples.PNG))])
    row = session.get(SubmissionFile, sub.files[0].id)
    assert row is not None
    smaller = _put(store, samples.JPEG + b"smaller")
    stranger = _put(store, samples.JPEG + b"alias of a file no row names")
    with session.begin_nested():
        blobs.record_alias(session.connection(), data_dir, row.sha256, smaller)
        blobs.record_alias(session.connection(), data_dir, "f" * 64, stranger)
    session.commit()
    store.path(row.sha256).unlink()  # this hub holds the photo only in its smaller form
    found, path = file_for(session, store, world.teacher, row.id)
    assert found.id == row.id and path == store.path(smaller)
    removed = collect_orphans(session, store, max_age=dt.timedelta(0))
    assert removed == [stranger]  # the smaller form stays: its row's alias names it
    assert store.path(smaller).exists()
    client = app.test_client()
    sign_in_as(client, world.teacher)
    page = client.get(f"/teacher/files/{row.id}?download=1")
    try:
        assert page.status_code == 200 and page.mimetype == "image/jpeg"
        assert page.headers["Content-Disposition"] == "attachment; filename=tableau.jpg"
        assert page.get_data() == samples.JPEG + b"smaller"
    finally:
        page.close()


def test_only_a_jpeg_may_stand_for_a_photo(session: Session, data_dir: Path) -> None:
    store = BlobStore.in_data_dir(data_dir)
    not_jpeg = _put(store, samples.PNG)
    with pytest.raises(Invalid, match="must be a JPEG"):
        blobs.record_alias(session.connection(), data_dir, "e" * 64, not_jpeg)
    assert blobs.stored_form(session.connection(), "e" * 64) is None
