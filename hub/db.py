"""The database as a Flask extension: engine per app, one session per request, migrations.

The engine is built from settings inside `init_app` (never at import time) and kept in
`app.extensions["ardoise.db"]`; the request's session is closed at teardown.

Alembic is imported only to migrate: the web process checks the schema's revision with
`schema_is_current` (one query) and leaves migrating to `ardoise db upgrade`, so it never
carries Alembic, Mako and Pygments (docs/decisions.md, "The web process stays small").
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, current_app, g
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from ardoise.db import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
# `revision: str = "0001"` and `down_revision: str | None = None` (or a tuple, after a merge)
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(.+?)\s*$", re.MULTILINE)


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]


def init_app(app: Flask, url: str) -> Database:
    engine = make_engine(url)
    db = Database(engine, sessionmaker(engine, expire_on_commit=False))
    app.extensions["ardoise.db"] = db
    app.teardown_appcontext(_close_session)
    return db


def database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["ardoise.db"]


def session() -> Session:
    """The current request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = database().sessions()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # only to migrate (see the module docstring)

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser escaping
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to date; each migration runs in its own transaction."""
    from alembic import command  # only to migrate (see the module docstring)

    command.upgrade(alembic_config(engine), revision)


def head_revisions(versions_dir: Path = VERSIONS_DIR) -> set[str]:
    """The revisions no other migration revises, read from the migration files' headers
    as Alembic writes them (without importing Alembic)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in versions_dir.glob("*.py"):
        found = dict(m.groups() for m in _REVISION_LINE.finditer(path.read_text("utf-8")))
        if "revision" not in found:
            continue
        revisions.add(ast.literal_eval(found["revision"]))
        down = ast.literal_eval(found.get("down_revision", "None"))
        revised.update((down,) if isinstance(down, str) else down or ())
    return revisions - revised


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database is at (none for an empty database)."""
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, "alembic_version"):
            return set()
        return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the head of the migrations: one cheap query."""
    return current_revisions(engine) == head_revisions()
