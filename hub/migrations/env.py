"""Alembic environment: the metadata of every package that owns tables."""

from __future__ import annotations

from typing import Any

from alembic import context

import ardoise.device  # noqa: F401  (registers the device request and state tables)
import content_packs.catalog  # noqa: F401  (registers the catalogue tables)
import hub.central.models
import hub.models  # noqa: F401  (registers the user-data tables)
import sync.tables  # noqa: F401  (registers the sync engine's tables)
from ardoise.db import Base, make_engine

config = context.config
target_metadata = Base.metadata

# Tables Alembic must not manage: SQLite full-text indexes and their shadow tables.
IGNORED_PREFIXES = ("resource_fts",)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
                   ) -> bool:
    return not (type_ == "table" and name and name.startswith(IGNORED_PREFIXES))


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine(
        config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, include_object=include_object,
                          transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
