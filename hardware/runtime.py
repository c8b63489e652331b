"""Putting the agent together from settings: hardware, sampler, announcer, plugged tasks.

Only small modules are imported here: the agent process loads this for months. zeroconf
is imported when the hub announces itself (`discovery_enabled`), gpiozero when lights are
opened, and the tasks other packages plug in run in child processes (hardware/child.py).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ardoise import __version__
from ardoise.i18n import cli_locale
from ardoise.settings import Settings
from hardware.agent import Agent, HardwareState
from hardware.identity import device_id
from hardware.lights import Devices, HardwareError, default_pin_factory, open_devices
from hardware.status import Sampler, Thresholds, sources_from_settings
from hardware.store import SqliteStore

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


def without_tls() -> bool:
    """Make `import ssl` fail in this process, before zeroconf loads asyncio; False when
    something loaded it already.

    The long-running agent speaks no TLS: it talks to SQLite, to the web process over
    loopback HTTP and to the network over mDNS. asyncio (inside zeroconf) imports ssl only
    to offer TLS and does without it, as on a Python built without OpenSSL; loading it
    would map OpenSSL's libcrypto, 3 of the agent's 35 MiB. Tasks that need TLS (a sync
    over HTTPS) run in child processes, which are not affected. A `None` entry in
    sys.modules is the import system's documented way to say "not available".
    """
    if "ssl" in sys.modules:
        return sys.modules["ssl"] is None
    sys.modules["ssl"] = None  # type: ignore[assignment]
    return True


def build_agent(settings: Settings, store: SqliteStore, *, tasks: list[Any],
                pin_factory: Any = None, announce: bool | None = None,
                **agent_kwargs: Any) -> Agent:
    """The agent for these settings. `tasks`: hardware.child.describe_tasks(...) in
    `ardoise agent`, any AgentTask objects in tests."""
    devices, hardware = open_hardware(settings, pin_factory)
    sampler = Sampler(sources_from_settings(settings, store=store), role=settings.role,
                      limits=Thresholds.from_settings(settings, check_agent=False))
    announcer = None
    announcement: Callable[[], Any] | None = None
    dev_id = device_id(Path(settings.data_dir))  # made on the device's first start
    if settings.discovery_enabled if announce is None else announce:
        # zeroconf only in an agent that announces (a third of its memory)
        from hardware.discovery import Announcer, build_announcement, interfaces_setting

        def announcement() -> Any:
            return build_announcement(settings, dev_id, store.school(), __version__)

        announcer = Announcer(announcement(),
                              interfaces=interfaces_setting(settings.discovery_interfaces))
    return Agent(settings=settings, store=store, sampler=sampler, devices=devices,
                 hardware=hardware, tasks=tasks, announcer=announcer,
                 announcement=announcement, **agent_kwargs)


__all__ = ["build_agent", "open_hardware", "without_tls"]
