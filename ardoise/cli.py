"""What every `ardoise` command gets: settings, the database on first use, readable errors.

Lives in the core so each package's command group (`ardoise pack ...`, `ardoise sync ...`)
can use it without importing the hub.

SQLAlchemy is imported when a command first uses the database, and subcommands load when
they are run (`LazyGroup`): `ardoise agent` runs for months and must stay small, so it
loads neither the ORM nor the web app (docs/decisions.md, "The device agent stays small").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ardoise.errors import ArdoiseError
from ardoise.i18n import cli_locale
from ardoise.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session


class Context:
    """Settings, loaded once; the engine, made (and the schema brought up to date) on first use."""

    def __init__(self, config_file: Path | None, debug: bool,
                 prepare: Callable[[Engine], None] | None = None,
                 command: Sequence[str] = ()) -> None:
        self.config_file = config_file
        self.debug = debug
        self._prepare = prepare
        # How to run this same `ardoise` command in a child process, global options
        # included (the agent runs its tasks that way).
        self.command = tuple(command)
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
            from ardoise.db import make_engine

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._engine = make_engine(self.settings.database_url_resolved)
            if self._prepare is not None:
                self._prepare(self._engine)
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        from sqlalchemy.orm import Session

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


class LazyGroup(ArdoiseGroup):
    """A group whose subcommands are imported when they are run or listed, from
    "module:attribute" strings (click's documented lazy loading pattern)."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            self.add_command(self._load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> click.Command:
        module, _, attr = self.lazy_commands[name].partition(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_commands[name]} is not a click command")
        return command


__all__ = ["ArdoiseGroup", "Context", "LazyGroup", "pass_ctx"]
