"""The search fallback on PostgreSQL (the central): same answers, without FTS5."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ardoise.db import make_engine
from content_packs.catalog import Resource
from content_packs.install import install_pack, remove_pack
from content_packs.search import check_filters, find_resources
from hub.db import upgrade
from tests.content_packs.packs import build_pack
from tests.pg import scratch_database

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    with scratch_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


@pytest.fixture
def library(pg_engine: Engine, tmp_path: Path) -> Iterator[Session]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with Session(pg_engine, expire_on_commit=False) as session:
        install_pack(session, data_dir, build_pack(tmp_path))
        yield session
        remove_pack(session, data_dir, "essai")


def uids(session: Session, query: str, **filters: str) -> list[str]:
    return [r.uid for r in find_resources(session, query, check_filters(**filters)).items]


def test_installed_on_postgres_with_folded_search_columns(library: Session) -> None:
    ecole = library.scalars(select(Resource).where(Resource.uid == "essai/ecole")).one()
    assert "l'ecole du village" in ecole.search_title
    assert "eleves" in ecole.search_text and "zebrure" not in ecole.search_text


def test_fallback_folds_accents_and_ranks_titles_first(library: Session) -> None:
    assert uids(library, "ÉCOLE")[:2] == ["essai/ecole", "essai/fleuve"]
    assert uids(library, "numerateur") == ["essai/fiche"]
    assert uids(library, "village ec") == ["essai/ecole"]
    assert uids(library, "école", subject="francais") == ["essai/ecole"]
    assert uids(library, "école", language="en") == []


@pytest.mark.parametrize("hostile", ['"', "%", "NEAR(", "école' OR '1'='1", "\\", "*", "( AND"])
def test_fallback_hostile_input(library: Session, hostile: str) -> None:
    page = find_resources(library, hostile)
    assert page.total >= 0
    assert library.scalars(select(Resource)).all()  # nothing dropped


def test_fallback_escapes_like_wildcards(library: Session) -> None:
    # Unescaped, "_" would match any letter and "ec_le" would find "école".
    assert uids(library, "ec_le") == []
    assert uids(library, "ecole") != []
