"""`ardoise status`, `ardoise hw ...` and `ardoise discover`: thin calls into the hardware
library. `ardoise agent` is in hardware/cli_agent.py, which loads only small modules."""

from __future__ import annotations

import json
import time

import click
from sqlalchemy.orm import Session, sessionmaker

from ardoise.cli import Context, pass_ctx
from ardoise.errors import ArdoiseError
from ardoise.i18n import N_, cli_locale, translate
from hardware import lights as L
from hardware import status as hw_status
from hardware.cli_agent import agent_group
from hardware.discovery import discover, interfaces_setting
from hardware.lights import default_pin_factory, open_devices
from hardware.report import rows


class NoGpio(ArdoiseError, RuntimeError):
    status = 503
    code = "no_gpio"


def _sessions(obj: Context) -> sessionmaker[Session]:
    return sessionmaker(obj.engine, expire_on_commit=False)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
def status_command(obj: Context, as_json: bool) -> None:
    """The device status: lights, health, last sync, packs (what the status page shows)."""
    status = hw_status.sample_status(obj.settings, _sessions(obj))
    if as_json:
        click.echo(json.dumps(status.to_dict(), indent=2, ensure_ascii=False))
        return
    table = rows(status, cli_locale(), obj.settings.timezone)
    width = max(len(r.label) for r in table)
    for row in table:
        mark = {"problem": "!!", "warning": " !"}.get(row.level, "  ")
        click.echo(f"{mark} {row.label.ljust(width)}  {row.value}")


@click.group("hw")
def hw_group() -> None:
    """The status lights, button and buzzer."""


@hw_group.command("test-leds")
@click.option("--seconds", type=float, default=1.0, show_default=True,
              help="How long each light stays on.")
@pass_ctx
def test_leds(obj: Context, seconds: float) -> None:
    """Light each light in turn, then blink code 3 on the red light: to check the wiring."""
    factory, reason = default_pin_factory()
    if factory is None:
        raise NoGpio(N_("No GPIO on this machine: %(reason)s"), reason=reason)
    devices = open_devices(obj.settings, factory)
    try:
        for name, output in devices.outputs.items():
            click.echo(f"{name}: {L.ON.kind}")
            output.on()
            time.sleep(seconds)
            output.off()
        red = devices.outputs.get("red")
        if red is not None:
            click.echo("red: code-3")
            for lit, duration in L.code(3).steps:
                (red.on if lit else red.off)()
                time.sleep(min(duration, 2.0) if seconds > 0 else 0)
            red.off()
        if devices.button is not None:
            state = "pressed" if devices.button.is_pressed else "released"
            click.echo(f"button: {state}")
    finally:
        devices.close()


@click.command("discover")
@click.option("--seconds", type=float, default=3.0, show_default=True,
              help="How long to listen for answers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
def discover_command(obj: Context, seconds: float, as_json: bool) -> None:
    """List the Ardoise hubs and central servers that answer on the network."""
    found = discover(seconds, interfaces=interfaces_setting(obj.settings.discovery_interfaces))
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo(translate(N_("No hub or central answered."), cli_locale()))
        return
    for s in found:
        school = s.school_name or s.school or "-"
        click.echo(f"{s.role:8} {s.instance:40} {school:30} {s.url:28} {s.version}")


COMMANDS = (status_command, agent_group, hw_group, discover_command)

__all__ = ["COMMANDS", "discover_command", "hw_group", "status_command"]
