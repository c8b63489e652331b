"""The database as a Flask extension: engine per app, one session per request, migrations.

The engine is built from settings inside `init_app` (never at import time) and kept in
`app.extensions["ardoise.db"]`; the request's session is closed at teardown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ardoise.db import make_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


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
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser escaping
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to date; each migration runs in its own transaction."""
    command.upgrade(alembic_config(engine), revision)
