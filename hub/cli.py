"""The `ardoise` command: one group per package, each command a thin call into a library.

Errors become short messages in the user's language (French unless LANG or
ARDOISE_LANGUAGE says English); `--debug` shows the traceback instead.

Each package's commands are imported when they are run (LAZY_COMMANDS), not when `ardoise`
starts: the long-running `ardoise agent` must not load Flask or SQLAlchemy
(docs/decisions.md, "The device agent stays small"). For the same reason the database
set-up and `serve` import what they need when they run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ardoise import __version__
from ardoise.cli import Context, LazyGroup, pass_ctx
from ardoise.settings import describe

if TYPE_CHECKING:
    from sqlalchemy import Engine

# Each package's command group: name -> "module:attribute", imported when used.
LAZY_COMMANDS = {
    "agent": "hardware.cli_agent:agent_group",
    "class": "hub.cli_people:class_group",
    "classwork": "hub.classwork.cli:classwork_group",
    "demo": "hub.cli_demo:demo_command",
    "discover": "hardware.cli:discover_command",
    "hw": "hardware.cli:hw_group",
    "image": "image_builder.cli:image",
    "pack": "content_packs.cli:pack_group",
    "school": "hub.cli_people:school_group",
    "status": "hardware.cli:status_command",
    "sync": "hub.cli_sync:sync_group",
    "user": "hub.cli_people:user_group",
}


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS)
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              envvar="ARDOISE_CONFIG",
              help="Settings file (default /etc/ardoise/ardoise.toml if present).")
@click.option("--debug", is_flag=True, envvar="ARDOISE_DEBUG",
              help="Show full tracebacks on errors.")
@click.version_option(__version__, prog_name="ardoise")
@click.pass_context
def main(ctx: click.Context, config_file: Path | None, debug: bool) -> None:
    """Ardoise: the offline-first classroom hub."""
    obj = Context(config_file, debug, prepare=_prepare,
                  command=_same_command(config_file, debug))
    ctx.obj = obj
    ctx.call_on_close(obj.close)


def _prepare(engine: Engine) -> None:
    """Schema up to date, then change capture on (synced rows get their stamps)."""
    from hub import db
    from hub.sync_registry import install_capture

    db.upgrade(engine)
    install_capture(engine)


def _same_command(config_file: Path | None, debug: bool) -> list[str]:
    """This command, run again in a child process with the same interpreter and options
    (`python -m hub` is `ardoise`)."""
    argv = [sys.executable, "-m", "hub"]
    if config_file is not None:
        argv += ["--config", str(config_file)]
    return [*argv, "--debug"] if debug else argv


@main.group()
def config() -> None:
    """Show the settings."""


@config.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_ctx
def config_list(obj: Context, as_json: bool) -> None:
    """Every setting: its value, where it came from, its variable and what it does."""
    rows = describe(obj.settings)
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']} = {row['value']}    [{row['source']}; {row['env']}]")
        click.echo(f"    {row['help']}")


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@pass_ctx
def db_upgrade(obj: Context) -> None:
    """Bring the database schema up to date (every command that needs it does it too)."""
    _ = obj.engine
    click.echo("ok")


@main.command()
@click.option("--host", help="Listen address (setting: host).")
@click.option("--port", type=int, help="Listen port (setting: port).")
@pass_ctx
def serve(obj: Context, host: str | None, port: int | None) -> None:
    """Run the web process (pages and API) with the production server."""
    from hub.serve import run

    # An outdated database is migrated by `ardoise db upgrade` in a child process: the
    # serving process never loads Alembic (docs/decisions.md, "The web process stays small").
    run(obj.settings, host=host, port=port, migrate=[*obj.command, "db", "upgrade"])

