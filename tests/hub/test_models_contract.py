"""The data layer behaves the same on SQLite (the hub) and PostgreSQL (the central)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ardoise.db import make_engine
from hub.db import alembic_config, database
from hub.models import Assignment, AssignmentStatus, Classroom, Role, School, User
from tests.factories import make_world


def test_world_round_trip(any_app: Flask) -> None:
    world = make_world(any_app, n_students=2)
    with database(any_app).sessions() as s:
        students = s.scalars(select(User).where(User.role == Role.STUDENT)
                             .order_by(User.username)).all()
        assert [u.username for u in students] == ["autre0", "autre1", "eleve0", "eleve1"]
        assert students[0].id.version == 7
        assert s.get(School, world.school.id).name == "École du Littoral"


def test_datetimes_are_utc_aware(any_app: Flask) -> None:
    world = make_world(any_app, n_students=1)
    due = dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    with database(any_app).sessions() as s:
        a = Assignment(school_id=world.school.id, classroom_id=world.classroom.id,
                       author_id=world.teacher.id, title="Devoir", due_at=due)
        s.add(a)
        s.commit()
        s.expire_all()
        got = s.get(Assignment, a.id)
        assert got.due_at == due and got.due_at.tzinfo is not None
        assert got.due_at.utcoffset() == dt.timedelta(0)
        assert got.status is AssignmentStatus.DRAFT


def test_naive_datetime_is_refused(any_app: Flask) -> None:
    world = make_world(any_app, n_students=1)
    with database(any_app).sessions() as s:
        s.add(Assignment(school_id=world.school.id, classroom_id=world.classroom.id,
                         author_id=world.teacher.id, title="x",
                         due_at=dt.datetime(2026, 1, 1)))
        with pytest.raises(Exception, match="naive datetime"):
            s.commit()


def test_username_unique_per_school(any_app: Flask) -> None:
    world = make_world(any_app, n_students=1)
    with database(any_app).sessions() as s:
        s.add(User(school_id=world.school.id, role=Role.STUDENT, username="eleve0",
                   full_name="Doublon"))
        with pytest.raises(IntegrityError):
            s.commit()


def test_foreign_keys_enforced(any_app: Flask) -> None:
    make_world(any_app, n_students=1)
    with database(any_app).sessions() as s:
        s.add(Classroom(school_id=uuid.uuid4(), name="orpheline"))
        with pytest.raises(IntegrityError):
            s.commit()


def test_migrations_match_models_on_postgres(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    command.check(alembic_config(engine))
    engine.dispose()
