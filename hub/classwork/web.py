"""Edge helpers shared by the classwork pages and the classwork API (Flask lives here,
never in the library modules beside it)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from flask import Response, current_app, request, send_file
from flask_babel import get_locale

from ardoise.errors import Invalid
from ardoise.i18n import N_
from hub.classwork.blobs import BlobStore
from hub.classwork.submissions import Upload
from hub.models import SubmissionFile

FILE_MAX_AGE = 3600  # blobs never change; the browser may keep them an hour
SMALLER_PHOTO_TYPE = "image/jpeg"  # what sync.photos makes of large photos


def settings_value(name: str) -> Any:
    return current_app.extensions["ardoise.settings"][name]


def blob_store() -> BlobStore:
    return BlobStore.in_data_dir(Path(str(settings_value("data_dir"))))


def max_upload_bytes() -> int:
    return int(settings_value("upload_max_mb")) * 1024 * 1024


def locale() -> str:
    return str(get_locale() or "fr_CA")


def tz_name() -> str:
    return str(settings_value("timezone"))


def uploads_from_request(name: str = "files") -> list[Upload]:
    """The files of a multipart request; the empty part a form sends when no file was
    chosen is skipped."""
    return [Upload(f.filename, f.stream) for f in request.files.getlist(name)
            if f.filename or f.content_length]


def parse_uuid(value: object, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Invalid(N_("%(field)s: %(value)s is not a valid id."), field=field,
                      value=str(value)) from None


def send_work_file(record: SubmissionFile, path: Path) -> Response:
    """A handed-in file with the type found when it was checked, never sniffed again by the
    browser, shown inline (images, audio, PDF) or downloaded with ?download=1.

    A path named otherwise than the record's hash is the smaller JPEG the sync made of a
    large photo (sync.photos): it is served as the JPEG it is."""
    media_type, name = record.media_type, record.filename
    if path.name != record.sha256:
        media_type, name = SMALLER_PHOTO_TYPE, f"{Path(record.filename).stem}.jpg"
    response = send_file(path, mimetype=media_type, conditional=True,
                         as_attachment=request.args.get("download") == "1",
                         download_name=name, etag=path.name, max_age=FILE_MAX_AGE)
    response.cache_control.public = False
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
