"""A hub that has synced once with the central and holds one student's file, not yet sent:
the starting point of the blob and photo tests."""

from __future__ import annotations

import hashlib

from hub.models import Assignment, Submission, SubmissionFile
from hub.sync_registry import registry
from sync import blobs, hubside
from tests.factories import World, make_world
from tests.hub.central.conftest import Central, HubSide
from tests.hub.central.test_end_to_end import _token


def hand_in_on_hub(central: Central, hub_side: HubSide, data: bytes,
                   filename: str = "photo.jpg", language: str = ""
                   ) -> tuple[World, str, SubmissionFile]:
    """Enroll the hub, sync the class, then store `data` as a hand-in file on the hub."""
    world = make_world(central.app, n_students=1)
    with central.sessions() as s:
        a = Assignment(school_id=world.school.id, classroom_id=world.classroom.id,
                       author_id=world.teacher.id, title="Photo")
        s.add(a)
        s.commit()
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, _token(central, world),
                   language=language)
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir)
    sha = hashlib.sha256(data).hexdigest()
    path = blobs.blob_path(hub_side.data_dir, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    with hub_side.sessions() as s:
        sub = Submission(school_id=world.school.id, classroom_id=world.classroom.id,
                         assignment_id=a.id, student_id=world.students[0].id)
        s.add(sub)
        s.flush()
        row = SubmissionFile(school_id=world.school.id, classroom_id=world.classroom.id,
                             student_id=world.students[0].id, submission_id=sub.id,
                             sha256=sha, filename=filename, media_type="image/jpeg",
                             size=len(data))
        s.add(row)
        s.commit()
    return world, sha, row
