"""Student files travel after the records, in chunks, resumed after a cut, once."""

from __future__ import annotations

import hashlib
import os

from hub.models import Assignment, Submission, SubmissionFile
from hub.sync_registry import registry
from sync import blobs, hubside, signing
from tests.factories import make_world
from tests.hub.central.conftest import Central, HubSide
from tests.hub.central.test_end_to_end import _post, _token


def _with_file(central: Central, hub_side: HubSide, size: int) -> tuple[str, bytes]:
    world = make_world(central.app, n_students=1)
    with central.sessions() as s:
        a = Assignment(school_id=world.school.id, classroom_id=world.classroom.id,
                       author_id=world.teacher.id, title="Photo")
        s.add(a)
        s.commit()
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, _token(central, world))
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    data = os.urandom(size)
    sha = hashlib.sha256(data).hexdigest()
    path = blobs.blob_path(hub_side.data_dir, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    with hub_side.sessions() as s:
        sub = Submission(school_id=world.school.id, classroom_id=world.classroom.id,
                         assignment_id=a.id, student_id=world.students[0].id)
        s.add(sub)
        s.flush()
        s.add(SubmissionFile(school_id=world.school.id, classroom_id=world.classroom.id,
                             student_id=world.students[0].id, submission_id=sub.id,
                             sha256=sha, filename="photo.jpg", media_type="image/jpeg",
                             size=size))
        s.commit()
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
    assert stats.extra["files"] == {"files": 1, "bytes": 130_000, "already": 0}
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
    assert stats.extra["files_down"] == {"files": 1, "bytes": 140_000, "unavailable": 0}
    assert blobs.blob_path(hub_side.data_dir, sha).read_bytes() == data
    again = hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    assert again.extra["files_down"]["bytes"] == 0 and again.requests == 1
