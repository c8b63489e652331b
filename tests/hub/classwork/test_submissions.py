"""Handing in: saved completely or not at all, limits, types, a real full disk, orphans."""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ardoise.errors import Conflict, Invalid, NotFound, StorageFull, TooLarge, UnsupportedType
from hub.classwork.blobs import BlobStore, collect_orphans
from hub.classwork.submissions import (
    Upload,
    class_work,
    file_for,
    hand_in,
    my_work,
    work_for_staff,
)
from hub.classwork.worklist import WorkStatus
from hub.models import AssignmentStatus, Submission, SubmissionFile
from tests.factories import World, make_assignment
from tests.hub.classwork import samples

MB = 1024 * 1024


@pytest.fixture
def store(data_dir: Path) -> BlobStore:
    return BlobStore.in_data_dir(data_dir)


def up(data: bytes, name: str = "photo.jpg") -> Upload:
    return Upload(name, io.BytesIO(data))


def rows(session: Session) -> tuple[int, int]:
    return (session.scalar(select(func.count()).select_from(Submission)) or 0,
            session.scalar(select(func.count()).select_from(SubmissionFile)) or 0)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_hand_in_text_and_files(app: Flask, world: World, session: Session,
                                store: BlobStore) -> None:
    a = make_assignment(app, world)
    student = world.students[0]
    sub = hand_in(session, store, student, a.id, text="Ma réponse", max_bytes=MB,
                  uploads=[up(samples.JPEG, "IMG_001.jpg"), up(samples.PDF, "devoir.pdf"),
                           up(samples.wav(), "lecture.wav")])
    assert rows(session) == (1, 3)
    files = session.scalars(select(SubmissionFile).order_by(SubmissionFile.id)).all()
    assert [(f.filename, f.media_type) for f in files] == [
        ("IMG_001.jpg", "image/jpeg"), ("devoir.pdf", "application/pdf"),
        ("lecture.wav", "audio/wav")]
    for f in files:
        assert store.path(f.sha256).read_bytes()[:4] in (samples.JPEG[:4], b"%PDF", b"RIFF")
        assert f.submission_id == sub.id and f.student_id == student.id
        assert f.classroom_id == world.classroom.id and f.school_id == world.school.id
    assert files_in(store.staging_dir) == []


def test_hand_in_again_appends_and_the_latest_counts(app: Flask, world: World,
                                                     session: Session, store: BlobStore
                                                     ) -> None:
    due = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    a = make_assignment(app, world, due_at=due)
    st = world.students[0]
    hand_in(session, store, st, a.id, text="premier", uploads=[], max_bytes=MB,
            now=due - dt.timedelta(hours=1))
    hand_in(session, store, st, a.id, text="second", uploads=[], max_bytes=MB,
            now=due + dt.timedelta(hours=1))
    view = my_work(session, st, a.id, now=due + dt.timedelta(days=1))
    assert [s.text for s in view.work.submissions] == ["second", "premier"]
    assert view.work.latest is not None and view.work.latest.late
    assert not view.work.submissions[1].late
    assert view.work.status is WorkStatus.LATE
    assert rows(session) == (2, 0)


def test_identical_files_are_stored_once(app: Flask, world: World, session: Session,
                                         store: BlobStore) -> None:
    a = make_assignment(app, world)
    for st in world.students[:2]:
        hand_in(session, store, st, a.id, text="", uploads=[up(samples.PNG, "a.png")],
                max_bytes=MB)
    assert rows(session) == (2, 2)
    assert len(files_in(store.blobs_dir)) == 1


@pytest.mark.parametrize(("text", "uploads", "error", "field"), [
    ("", [], Invalid, "text"),
    ("   ", [], Invalid, "text"),
    ("x" * 20_001, [], Invalid, "text"),
    ("ok", [up(samples.JPEG) for _ in range(11)], Invalid, "files"),
    ("ok", [up(b"", "vide.jpg")], Invalid, "files"),
])
def test_bad_hand_ins_are_refused(app: Flask, world: World, session: Session,
                                  store: BlobStore, text: str, uploads: list[Upload],
                                  error: type, field: str) -> None:
    a = make_assignment(app, world)
    with pytest.raises(error) as info:
        hand_in(session, store, world.students[0], a.id, text=text, uploads=uploads,
                max_bytes=MB)
    assert info.value.params["field"] == field
    assert rows(session) == (0, 0)
    assert files_in(store.staging_dir) == [] and files_in(store.blobs_dir) == []


def test_too_large_names_the_limit_and_stores_nothing(app: Flask, world: World,
                                                      session: Session, store: BlobStore
                                                      ) -> None:
    a = make_assignment(app, world)
    with pytest.raises(TooLarge) as info:
        hand_in(session, store, world.students[0], a.id, text="ok", max_bytes=1 * MB,
                uploads=[up(samples.JPEG, "petite.jpg"),
                         up(samples.big_jpeg(MB + 1), "grosse.jpg")])
    assert info.value.status == 413
    message = info.value.render("en")
    assert "grosse.jpg" in message and "1 MB" in message
    assert rows(session) == (0, 0)
    assert files_in(store.staging_dir) == [] and files_in(store.blobs_dir) == []
    # exactly at the limit is fine
    hand_in(session, store, world.students[0], a.id, text="", max_bytes=1 * MB,
            uploads=[up(samples.big_jpeg(MB), "juste.jpg")])
    assert rows(session) == (1, 1)


def test_a_text_file_named_jpg_is_refused(app: Flask, world: World, session: Session,
                                          store: BlobStore) -> None:
    a = make_assignment(app, world)
    with pytest.raises(UnsupportedType) as info:
        hand_in(session, store, world.students[0], a.id, text="ok", max_bytes=MB,
                uploads=[up(samples.PDF, "ok.pdf"), up(samples.TEXT, "photo.jpg")])
    assert info.value.status == 415 and "photo.jpg" in info.value.render("en")
    assert rows(session) == (0, 0)
    assert files_in(store.staging_dir) == [] and files_in(store.blobs_dir) == []


def test_closed_draft_and_foreign_assignments(app: Flask, world: World, session: Session,
                                              store: BlobStore) -> None:
    closed = make_assignment(app, world, status=AssignmentStatus.CLOSED)
    draft = make_assignment(app, world, status=AssignmentStatus.DRAFT)
    foreign = make_assignment(app, world, classroom=world.other_classroom)
    with pytest.raises(Conflict):
        hand_in(session, store, world.students[0], closed.id, text="x", uploads=[],
                max_bytes=MB)
    for a in (draft, foreign):
        with pytest.raises(NotFound):
            hand_in(session, store, world.students[0], a.id, text="x", uploads=[],
                    max_bytes=MB)
    with pytest.raises(NotFound):  # teachers do not hand in
        hand_in(session, store, world.teacher, closed.id, text="x", uploads=[], max_bytes=MB)
    assert rows(session) == (0, 0)


def test_database_failure_after_the_files_leaves_no_row(
        app: Flask, world: World, session: Session, store: BlobStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    a = make_assignment(app, world)

    def broken_commit() -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(session, "commit", broken_commit)
    with pytest.raises(OperationalError):
        hand_in(session, store, world.students[0], a.id, text="perdu?", max_bytes=MB,
                uploads=[up(samples.JPEG)])
    monkeypatch.undo()
    assert rows(session) == (0, 0)
    assert files_in(store.staging_dir) == []
    # the blob was moved in before the commit failed: an orphan, harmless, collected later
    orphans = files_in(store.blobs_dir)
    assert len(orphans) == 1
    assert collect_orphans(session, store) == []  # too young: maybe a commit in progress
    old = time.time() - 2 * 3600
    os.utime(store.path(orphans[0]), (old, old))
    assert collect_orphans(session, store) == orphans
    assert files_in(store.blobs_dir) == []


def test_gc_keeps_referenced_blobs_and_removes_stale_staging(
        app: Flask, world: World, session: Session, store: BlobStore) -> None:
    a = make_assignment(app, world)
    hand_in(session, store, world.students[0], a.id, text="", max_bytes=MB,
            uploads=[up(samples.PNG, "garde.png")])
    kept = files_in(store.blobs_dir)
    store.staging_dir.mkdir(parents=True, exist_ok=True)
    stale = store.staging_dir / "upload-crash.part"
    stale.write_bytes(b"half a photo")
    fresh = store.staging_dir / "upload-now.part"
    fresh.write_bytes(b"in progress")
    stranger = store.blobs_dir / "README"
    stranger.write_text("not a blob")
    old = time.time() - 2 * 3600
    for p in (stale, stranger, store.path(kept[0])):
        os.utime(p, (old, old))
    removed = collect_orphans(session, store)
    assert removed == ["upload-crash.part"]
    assert files_in(store.blobs_dir) == sorted([*kept, "README"])
    assert files_in(store.staging_dir) == ["upload-now.part"]


def test_reusing_an_old_orphan_blob_makes_it_young_again(
        app: Flask, world: World, session: Session, store: BlobStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A hand-in that reuses an orphan blob must not lose it to a collector running before
    its commit."""
    a = make_assignment(app, world)
    store.blobs_dir.mkdir(parents=True)
    import hashlib
    sha = hashlib.sha256(samples.GIF).hexdigest()
    store.path(sha).write_bytes(samples.GIF)
    old = time.time() - 5 * 3600
    os.utime(store.path(sha), (old, old))
    real_commit = session.commit

    def commit_after_gc() -> None:
        assert collect_orphans(session, store) == []
        real_commit()

    monkeypatch.setattr(session, "commit", commit_after_gc)
    hand_in(session, store, world.students[0], a.id, text="", max_bytes=MB,
            uploads=[up(samples.GIF, "anim.gif")])
    monkeypatch.undo()
    assert store.path(sha).is_file() and rows(session) == (1, 1)


def test_disk_full_for_real_saves_nothing(app: Flask, world: World, session: Session,
                                          tiny_disk: Path) -> None:
    store = BlobStore(tiny_disk / "blobs", tiny_disk / "staging")
    a = make_assignment(app, world)
    with pytest.raises(StorageFull) as info:
        hand_in(session, store, world.students[0], a.id, text="Mon texte", max_bytes=MB,
                uploads=[up(samples.JPEG, "petite.jpg"),
                         up(samples.big_jpeg(200 * 1024), "photo.jpg")])
    assert info.value.status == 507
    assert "storage is full" in info.value.render("en") and "teacher" in info.value.render("en")
    assert rows(session) == (0, 0)
    assert files_in(store.staging_dir) == [] and files_in(store.blobs_dir) == []
    # the disk is usable again afterwards: a small hand-in goes through
    hand_in(session, store, world.students[0], a.id, text="", max_bytes=MB,
            uploads=[up(samples.JPEG, "petite.jpg")])
    assert rows(session) == (1, 1)


def test_files_are_readable_by_their_student_and_the_class_teachers_only(
        app: Flask, world: World, session: Session, store: BlobStore) -> None:
    a = make_assignment(app, world)
    hand_in(session, store, world.students[0], a.id, text="", max_bytes=MB,
            uploads=[up(samples.PNG, "mien.png")])
    f = session.scalars(select(SubmissionFile)).one()
    for user in (world.students[0], world.teacher, world.admin):
        record, path = file_for(session, store, user, f.id)
        assert record.id == f.id and path.read_bytes() == samples.PNG
    for user in (world.students[1], world.other_students[0], world.other_teacher):
        with pytest.raises(NotFound):
            file_for(session, store, user, f.id)
    store.path(f.sha256).unlink()  # e.g. a row that synced without its file
    with pytest.raises(NotFound):
        file_for(session, store, world.teacher, f.id)


def test_class_work_for_the_teacher(app: Flask, world: World, session: Session,
                                    store: BlobStore) -> None:
    due = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    a = make_assignment(app, world, due_at=due)
    s0, s1, s2 = world.students
    hand_in(session, store, s0, a.id, text="à l'heure", uploads=[], max_bytes=MB,
            now=due - dt.timedelta(hours=2))
    hand_in(session, store, s1, a.id, text="tard", uploads=[up(samples.JPEG)], max_bytes=MB,
            now=due + dt.timedelta(hours=2))
    _, table = class_work(session, world.teacher, a.id, now=due + dt.timedelta(days=1))
    by_name = {r.student.username: r for r in table}
    assert by_name["eleve0"].status is WorkStatus.HANDED_IN
    assert by_name["eleve1"].status is WorkStatus.LATE
    assert by_name["eleve1"].submissions[0].files[0].media_type == "image/jpeg"
    assert by_name["eleve2"].status is WorkStatus.OVERDUE and by_name["eleve2"].count == 0
    assert set(by_name) == {"eleve0", "eleve1", "eleve2"}
    w = work_for_staff(session, world.teacher, a.id, s1.id)
    assert [x.text for x in w.submissions] == ["tard"]
    with pytest.raises(NotFound):
        class_work(session, world.other_teacher, a.id)
    with pytest.raises(NotFound):
        work_for_staff(session, world.teacher, a.id, world.other_students[0].id)
    assert s2  # targeted but silent: listed above as overdue
