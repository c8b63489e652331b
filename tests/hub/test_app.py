"""The app factory: per-device secret, upload spooling, request size bound."""

from __future__ import annotations

import io
import os
from pathlib import Path

from flask import Flask, request
from werkzeug.test import EnvironBuilder

from hub import create_app
from hub.db import database


def test_secret_key_is_generated_once_per_device(data_dir: Path) -> None:
    a = create_app({"TESTING": True, "data_dir": str(data_dir)})
    b = create_app({"TESTING": True, "data_dir": str(data_dir)})
    key = (data_dir / "secret_key").read_text()
    assert a.secret_key == b.secret_key == key and len(key) == 64
    assert (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    other = data_dir.parent / "other"
    c = create_app({"TESTING": True, "data_dir": str(other)})
    assert c.secret_key != key
    for app in (a, b, c):
        database(app).engine.dispose()


def test_large_uploads_spool_into_the_data_folder(app: Flask, data_dir: Path) -> None:
    body = io.BytesIO(b"x" * (600 * 1024))
    builder = EnvironBuilder(path="/", method="POST", data={"f": (body, "photo.jpg")},
                             content_type="multipart/form-data")
    environ = builder.get_environ()
    with app.request_context(environ):
        stream = request.files["f"].stream
        stream.read(1)
        fd = stream.fileno()
        where = Path(os.readlink(f"/proc/self/fd/{fd}")).parent
        stream.close()
        assert where == data_dir / "staging"
    environ["wsgi.input"].close()
    builder.close()


def test_request_bound_allows_several_photos(app: Flask) -> None:
    settings = app.extensions["ardoise.settings"]
    mb = 1024 * 1024
    assert app.config["MAX_CONTENT_LENGTH"] == (
        settings.upload_max_mb * settings.upload_max_files + 1) * mb
