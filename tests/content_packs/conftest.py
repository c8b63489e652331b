"""A SQLAlchemy session on the test's migrated database (content_packs needs no app)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ardoise.db import make_engine


@pytest.fixture
def engine(data_dir: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{data_dir / 'ardoise.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s
