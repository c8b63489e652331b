"""Feedback: written by a teacher of the class, editable, seen only by its student."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ardoise.errors import Invalid, NotFound
from hub.classwork.blobs import BlobStore
from hub.classwork.feedback import save_feedback
from hub.classwork.submissions import Upload, hand_in, my_work
from hub.classwork.worklist import worklist
from hub.models import Feedback
from tests.factories import World, make_assignment
from tests.hub.classwork import samples


def test_feedback_is_editable_and_points_at_the_latest_hand_in(
        app: Flask, world: World, session: Session, data_dir: Path) -> None:
    store = BlobStore.in_data_dir(data_dir)
    a = make_assignment(app, world)
    s0 = world.students[0]
    first = hand_in(session, store, s0, a.id, text="v1", uploads=[], max_bytes=10**6)
    t1 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    fb = save_feedback(session, world.teacher, a.id, s0.id, comment="Bien.\r\nContinue.",
                       mark=" 8/10 ", now=t1)
    assert (fb.comment, fb.mark, fb.updated_at) == ("Bien.\nContinue.", "8/10", t1)
    assert fb.submission_id == first.id and fb.teacher_id == world.teacher.id
    second = hand_in(session, store, s0, a.id, text="v2",
                     uploads=[Upload("p.png", io.BytesIO(samples.PNG))], max_bytes=10**6)
    fb2 = save_feedback(session, world.teacher, a.id, s0.id, comment="Mieux", mark="A")
    assert fb2.id == fb.id and fb2.submission_id == second.id
    assert session.scalar(select(func.count()).select_from(Feedback)) == 1
    fb3 = save_feedback(session, world.teacher, a.id, s0.id, comment="", mark="")
    assert fb3.mark is None and fb3.comment == ""


def test_only_the_student_concerned_sees_it(app: Flask, world: World,
                                            session: Session) -> None:
    a = make_assignment(app, world)
    s0, s1, _ = world.students
    save_feedback(session, world.teacher, a.id, s0.id, comment="Pour toi", mark="B")
    mine = my_work(session, s0, a.id)
    assert mine.work.feedback is not None and mine.work.feedback.comment == "Pour toi"
    theirs = my_work(session, s1, a.id)
    assert theirs.work.feedback is None
    assert worklist(session, s0.id).todo[0].has_feedback
    assert not worklist(session, s1.id).todo[0].has_feedback


def test_feedback_scope_and_validation(app: Flask, world: World, session: Session) -> None:
    a = make_assignment(app, world)
    s0 = world.students[0]
    with pytest.raises(NotFound):  # not their class
        save_feedback(session, world.other_teacher, a.id, s0.id, comment="x", mark=None)
    with pytest.raises(NotFound):  # not a student of this assignment
        save_feedback(session, world.teacher, a.id, world.other_students[0].id, comment="x",
                      mark=None)
    with pytest.raises(NotFound):
        save_feedback(session, world.teacher, a.id, uuid.uuid4(), comment="x", mark=None)
    with pytest.raises(Invalid) as info:
        save_feedback(session, world.teacher, a.id, s0.id, comment="ok", mark="x" * 21)
    assert info.value.params["field"] == "mark"
    with pytest.raises(Invalid) as info:
        save_feedback(session, world.teacher, a.id, s0.id, comment=["?"], mark=None)
    assert info.value.params["field"] == "comment"
    assert save_feedback(session, world.teacher, a.id, s0.id, comment="", mark=9).mark == "9"
