"""Replicas on every backend: the same engine tests run on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.sync.helpers import PG_URL, Replica, drop_pg, pg_replica, sqlite_replica

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def make_replica(request: pytest.FixtureRequest, tmp_path: Path
                 ) -> Iterator[Callable[..., Replica]]:
    made: list[Replica] = []

    def make(name: str, start: float = 1_760_000_000.0) -> Replica:
        if request.param == "postgres":
            if not PG_URL:
                pytest.fail("ARDOISE_TEST_POSTGRES_URL is not set: run script/test, which "
                            "starts the local PostgreSQL and sets it")
            replica = pg_replica(name, start)
        else:
            replica = sqlite_replica(tmp_path, name, start)
        made.append(replica)
        return replica

    yield make
    for r in made:
        if r.schema:
            drop_pg(r)
        else:
            r.close()
