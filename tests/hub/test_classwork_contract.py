"""The classroom day on each backend: the same library calls on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask

from content_packs import find_resources, install_pack
from hub.classwork import (
    BlobStore,
    Upload,
    create_assignment,
    feedback_for,
    hand_in,
    my_work,
    save_feedback,
    worklist,
)
from hub.db import database
from hub.demo import DEMO_PACK
from hub.models import AssignmentStatus
from hub.progress import record_progress
from tests.factories import make_world
from tests.hub.classwork import samples


def test_assign_hand_in_feedback(any_app: Flask, data_dir: Path) -> None:
    world = make_world(any_app, n_students=2)
    store = BlobStore.in_data_dir(data_dir)
    with database(any_app).sessions() as s:
        install_pack(s, data_dir, DEMO_PACK)
        hits = find_resources(s, "video eau").items
        assert hits, "accent-insensitive search finds the water-cycle lessons"
        uid = hits[0].uid
        a = create_assignment(s, world.teacher, world.classroom.id, title="Le cycle de l'eau",
                              resource_uids=[uid], status=AssignmentStatus.PUBLISHED)
        first, second = world.students
        assert [i.title for i in worklist(s, first.id).todo] == ["Le cycle de l'eau"]
        assert worklist(s, world.other_students[0].id).todo == []

        record_progress(s, first, uid, "opened")
        s.commit()
        hand_in(s, store, first, a.id, text="Ma réponse",
                uploads=[Upload("photo.jpg", io.BytesIO(samples.JPEG))], max_bytes=10**6)
        todo_done = worklist(s, first.id)
        assert todo_done.todo == [] and [i.title for i in todo_done.done] == [a.title]
        assert [i.title for i in worklist(s, second.id).todo] == [a.title]

        save_feedback(s, world.teacher, a.id, first.id, comment="Bravo", mark="A")
        fb = feedback_for(s, a.id, first.id)
        assert fb is not None and (fb.comment, fb.mark) == ("Bravo", "A")
        mine = my_work(s, first, a.id)
        assert mine.resource_uids == [uid]
