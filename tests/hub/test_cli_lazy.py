"""The `ardoise` command loads each package's commands when they are used, under the
names it lists them by, so `ardoise agent` starts without the web app."""

from __future__ import annotations

import json
import subprocess
import sys

import click
from click.testing import CliRunner

from hub.cli import LAZY_COMMANDS, main


def test_every_lazy_command_loads_under_its_name() -> None:
    ctx = click.Context(main)
    names = main.list_commands(ctx)
    assert set(LAZY_COMMANDS) <= set(names) and {"config", "db", "serve"} <= set(names)
    for name in LAZY_COMMANDS:
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name


def test_starting_the_command_loads_no_package() -> None:
    code = ("import json, sys; from hub.cli import main; "
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    loaded = set(json.loads(done.stdout))
    assert not {m for m in loaded if m.split(".")[0] in (
        "flask", "sqlalchemy", "babel", "hardware", "sync", "content_packs", "image_builder")}
    assert {m for m in loaded if m.split(".")[0] == "hub"} == {"hub", "hub.cli"}


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name in (*LAZY_COMMANDS, "config", "db", "serve"):
        assert f"\n  {name} " in result.output


def test_python_dash_m_hub_is_the_ardoise_command() -> None:
    done = subprocess.run([sys.executable, "-m", "hub", "agent", "--help"],
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.startswith("Usage: ardoise agent [OPTIONS] [COMMAND]")
