"""GPIO lights and button, device status, discovery, and the device agent loop.

The public surface, for the hub, the CLI and the sync engine:

- `sample_status(settings, sessions)` -> `DeviceStatus` (`.to_dict()` full,
  `.public_dict()` public), `health_record(status)` for the central;
- `Agent`, `PeriodicTask`, `TaskContext`, `build_agent(...)`: the agent loop and how tasks
  plug in (see hardware/agent.py; `ardoise agent` runs them in child processes,
  hardware/child.py);
- `SqliteStore`: the device tables through sqlite3, as the agent reads and writes them;
- `request_sync_now(session)` (from `ardoise.device`): what "Sync now" buttons call;
- `Announcer`, `discover`: zeroconf; `wifi_payload`, `qr_svg`: the classroom sheet.

Each name is imported from its module on first use (PEP 562), not here: `ardoise agent`
imports a few of these modules and must not pay for the others (SQLAlchemy, segno).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "request_sync_now": "ardoise.device",
    "Agent": "hardware.agent",
    "AgentTask": "hardware.agent",
    "PeriodicTask": "hardware.agent",
    "TaskContext": "hardware.agent",
    "ChildTask": "hardware.child",
    "describe_tasks": "hardware.child",
    "Announcement": "hardware.discovery",
    "Announcer": "hardware.discovery",
    "SeenService": "hardware.discovery",
    "discover": "hardware.discovery",
    "HardwareError": "hardware.lights",
    "build_agent": "hardware.runtime",
    "open_hardware": "hardware.runtime",
    "DeviceStatus": "hardware.status",
    "Sampler": "hardware.status",
    "Thresholds": "hardware.status",
    "health_record": "hardware.status",
    "sample_status": "hardware.status",
    "sources_from_settings": "hardware.status",
    "SqliteStore": "hardware.store",
    "qr_svg": "hardware.wifi_sheet",
    "read_wifi_info": "hardware.wifi_sheet",
    "wifi_payload": "hardware.wifi_sheet",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'hardware' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
