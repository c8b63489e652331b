"""Fixtures of the pack tests: a database session (content_packs needs no app), publisher
keys, a published pack tree and a real rsync daemon serving it on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ardoise.db import make_engine
from tests.content_packs.keys import Publisher, make_publisher
from tests.content_packs.rsyncd import Daemon, start_daemon


@pytest.fixture
def engine(data_dir: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{data_dir / 'ardoise.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture(scope="session")
def publisher(tmp_path_factory: pytest.TempPathFactory) -> Publisher:
    """A publisher key pair (made once for the session)."""
    return make_publisher(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def forger(tmp_path_factory: pytest.TempPathFactory) -> Publisher:
    """Another key, which no hub trusts."""
    return make_publisher(tmp_path_factory.mktemp("forger"), "forger")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    path = tmp_path / "tree"
    path.mkdir()
    return path


@pytest.fixture
def daemon(tree: Path, tmp_path: Path) -> Iterator[Daemon]:
    d = start_daemon(tree, tmp_path / "rsyncd")
    yield d
    d.stop()
