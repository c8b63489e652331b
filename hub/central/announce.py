"""The central announces itself on the local network (zeroconf, role `central`).

A hub carried to the service centre's office finds it there (the sync agent's finder,
`hardware.discovery.find_central`) and syncs, once the central has proved it holds the
key the hub learned at enrollment (`sync.hubside.check_central`). `ardoise serve` keeps
the announcement up while it runs on a central whose `discovery_enabled` is on; the
address announced is the one `hub_url` gives (its port and path), on the addresses of
`discovery_interfaces` (every interface when empty).

zeroconf is loaded only when a central announces: a hub's web process never needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ardoise import __version__
from ardoise.settings import Settings
from hardware.identity import SchoolInfo, device_id

log = logging.getLogger(__name__)

CENTRAL_NAME = "central"  # in the instance name: "Ardoise central 3f2a"


def central_announcement(settings: Settings) -> Any:
    """What the central announces: role `central`, its device id, hub_url's port and path."""
    from hardware.discovery import build_announcement

    return build_announcement(settings, device_id(Path(settings.data_dir)),
                              SchoolInfo("", CENTRAL_NAME), __version__)


@contextmanager
def announced(settings: Settings) -> Iterator[Any]:
    """Announce the central while the block runs (yields the Announcer, or None on a hub,
    when the setting is off, or when the network refuses: serving goes on regardless)."""
    if settings.role != "central" or not settings.discovery_enabled:
        yield None
        return
    from hardware.discovery import Announcer, interfaces_setting

    announcer = Announcer(central_announcement(settings),
                          interfaces=interfaces_setting(settings.discovery_interfaces))
    try:
        announcer.start()
    except Exception as exc:  # no multicast here: hubs still reach the central by its URL
        log.warning("the central could not announce itself on the network: %s", exc)
        announcer.close()
        yield None
        return
    try:
        yield announcer
    finally:
        announcer.close()


__all__ = ["announced", "central_announcement"]
