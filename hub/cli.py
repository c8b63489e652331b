"""The `ardoise` command: one group per package, each command a thin call into a library.

Errors become short messages in the user's language (French unless LANG or
ARDOISE_LANGUAGE says English); `--debug` shows the traceback instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import Engine

from ardoise import __version__
from ardoise.cli import ArdoiseGroup, Context, pass_ctx
from ardoise.settings import describe
from content_packs.cli import pack_group
from hardware.cli import COMMANDS as hardware_commands
from hub import db
from hub.classwork.cli import classwork_group
from hub.cli_demo import demo_command
from hub.cli_people import class_group, school_group, user_group
from hub.cli_sync import sync_group
from hub.serve import run
from hub.sync_registry import install_capture
from image_builder.cli import image as image_group


@click.group(cls=ArdoiseGroup)
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              envvar="ARDOISE_CONFIG",
              help="Settings file (default /etc/ardoise/ardoise.toml if present).")
@click.option("--debug", is_flag=True, envvar="ARDOISE_DEBUG",
              help="Show full tracebacks on errors.")
@click.version_option(__version__, prog_name="ardoise")
@click.pass_context
def main(ctx: click.Context, config_file: Path | None, debug: bool) -> None:
    """Ardoise: the offline-first classroom hub."""
    obj = Context(config_file, debug, prepare=_prepare)
    ctx.obj = obj
    ctx.call_on_close(obj.close)


def _prepare(engine: Engine) -> None:
    """Schema up to date, then change capture on (synced rows get their stamps)."""
    db.upgrade(engine)
    install_capture(engine)


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
    _ = obj.engine  # migrate before the first request
    obj.close()
    run(obj.settings, host=host, port=port)


# Each package's command group.
# (added as packages grow: main.add_command(<group>))
main.add_command(pack_group)
main.add_command(demo_command)
main.add_command(classwork_group)
main.add_command(school_group)
main.add_command(class_group)
main.add_command(user_group)
main.add_command(image_group)
main.add_command(sync_group)
for _command in hardware_commands:  # status, agent, hw, discover
    main.add_command(_command)
