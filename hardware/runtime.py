"""Putting the agent together from settings: hardware, sampler, announcer, plugged tasks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

import content_packs
import sync
from ardoise import __version__
from ardoise.i18n import cli_locale
from ardoise.settings import Settings
from hardware.agent import Agent, HardwareState
from hardware.discovery import Announcer, build_announcement, find_central, interfaces_setting
from hardware.identity import device_id, school_info
from hardware.lights import Devices, HardwareError, default_pin_factory, open_devices
from hardware.status import Sampler, Thresholds, sources_from_settings
from sync.agent import use_finder

log = logging.getLogger(__name__)


def open_hardware(settings: Settings, pin_factory: Any = None
                  ) -> tuple[Devices | None, HardwareState]:
    """The lights and button, or None and why: turned off, no GPIO on this machine, or a
    pin setting that cannot be used (the reason names the pin, the device, the setting)."""
    if not settings.hw_enabled:
        return None, HardwareState("off", "hw_enabled is off")
    factory, reason = (pin_factory, "") if pin_factory is not None else default_pin_factory()
    if factory is None:
        return None, HardwareState("off", f"no GPIO on this machine ({reason})")
    try:
        return open_devices(settings, factory), HardwareState("on")
    except HardwareError as exc:
        return None, HardwareState("error", exc.render(cli_locale()))


def plugin_tasks(settings: Settings) -> list[Any]:
    """Tasks the other packages plug into the agent: each may expose
    `agent_tasks(settings) -> list` in its __init__ (the sync engine's opportunistic sync,
    pack updates)."""
    tasks: list[Any] = []
    for package in (sync, content_packs):
        factory = getattr(package, "agent_tasks", None)
        if factory is not None:
            tasks.extend(factory(settings))
    return tasks


def build_agent(settings: Settings, sessions: Callable[[], Session], *,
                pin_factory: Any = None, tasks: list[Any] | None = None,
                announce: bool | None = None, **agent_kwargs: Any) -> Agent:
    devices, hardware = open_hardware(settings, pin_factory)
    sampler = Sampler(sources_from_settings(settings, sessions), role=settings.role,
                      limits=Thresholds.from_settings(settings, check_agent=False))
    announcer = None
    dev_id = device_id(Path(settings.data_dir))
    if settings.discovery_enabled and settings.role == "hub":
        interfaces = interfaces_setting(settings.discovery_interfaces)
        use_finder(lambda: find_central(interfaces=interfaces))

    def announcement() -> Any:
        with sessions() as s:
            school = school_info(s)
        return build_announcement(settings, dev_id, school, __version__)

    if settings.discovery_enabled if announce is None else announce:
        announcer = Announcer(announcement(),
                              interfaces=interfaces_setting(settings.discovery_interfaces))
    return Agent(settings=settings, sessions=sessions, sampler=sampler, devices=devices,
                 hardware=hardware,
                 tasks=plugin_tasks(settings) if tasks is None else tasks,
                 announcer=announcer, announcement=announcement, **agent_kwargs)


__all__ = ["build_agent", "open_hardware", "plugin_tasks"]
