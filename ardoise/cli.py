"""What every `ardoise` command gets: settings, the database on first use, readable errors.

Lives in the core so each package's command group (`ardoise pack ...`, `ardoise sync ...`)
can use it without importing the hub.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ardoise.db import make_engine
from ardoise.errors import ArdoiseError
from ardoise.i18n import cli_locale
from ardoise.settings import Settings, load_settings


class Context:
    """Settings, loaded once; the engine, made (and the schema brought up to date) on first use."""

    def __init__(self, config_file: Path | None, debug: bool,
                 prepare: Callable[[Engine], None] | None = None) -> None:
        self.config_file = config_file
        self.debug = debug
        self._prepare = prepare
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
        return self._settings

    @property
    def data_dir(self) -> Path:
        return Path(self.settings.data_dir)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._engine = make_engine(self.settings.database_url_resolved)
            if self._prepare is not None:
                self._prepare(self._engine)
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            yield s

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


pass_ctx = click.make_pass_decorator(Context)


class ArdoiseGroup(click.Group):
    """Turns ArdoiseError into a readable message in the user's language (or, with
    --debug, lets the traceback through)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ArdoiseError as exc:
            obj = ctx.find_object(Context)
            if obj is not None and obj.debug:
                raise
            raise click.ClickException(exc.render(cli_locale())) from None


__all__ = ["ArdoiseGroup", "Context", "pass_ctx"]
