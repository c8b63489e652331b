"""Fixtures for classwork: a world of classes, library resources, a tiny full disk."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from content_packs.catalog import Resource
from content_packs.search import SearchDoc, index_pack
from hub.db import database
from tests.factories import World, make_world

RESOURCES = {
    "maths/fractions": ("Les fractions", "Fractions"),
    "maths/decimales": ("Les nombres décimaux", "Decimal numbers"),
    "francais/conte": ("Le conte du loup", "The wolf's tale"),
}


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app, n_students=3)


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with database(app).sessions() as s:
        yield s


def add_resources(app: Flask, items: dict[str, tuple[str, str]] = RESOURCES) -> list[str]:
    """Put resources in the library catalogue (and its search index) without a pack."""
    with database(app).sessions() as s:
        by_pack: dict[str, list[SearchDoc]] = {}
        for position, (uid, (fr, en)) in enumerate(items.items()):
            pack = uid.split("/")[0]
            s.add(Resource(uid=uid, pack_id=pack, pack_version="1", kind="html",
                           entry="index.html", media_type="text/html", title_fr=fr,
                           title_en=en, language="fr", position=position))
            by_pack.setdefault(pack, []).append(SearchDoc(uid, pack, fr, "", ""))
        s.flush()
        for pack, docs in by_pack.items():
            index_pack(s, pack, docs)
        s.commit()
    return list(items)


@pytest.fixture
def resources(app: Flask) -> list[str]:
    return add_resources(app)


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: Flask) -> Iterator[QueryCounter]:
    """Counts the SQL statements the app runs while the test holds it."""
    counter = QueryCounter()
    engine = database(app).engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB filesystem (tmpfs) that fills up: the disk-full case, for real."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                   check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)
