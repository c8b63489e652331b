"""GPIO lights and button, device status, discovery, and the device agent loop.

The public surface, for the hub, the CLI and the sync engine:

- `sample_status(settings, sessions)` -> `DeviceStatus` (`.to_dict()` full,
  `.public_dict()` public), `health_record(status)` for the central;
- `Agent`, `PeriodicTask`, `TaskContext`, `build_agent(...)`: the agent loop and how tasks
  plug in (see hardware/agent.py);
- `request_sync_now(session)` (from `ardoise.device`): what "Sync now" buttons call;
- `Announcer`, `discover`: zeroconf; `wifi_payload`, `qr_svg`: the classroom sheet.
"""

from ardoise.device import request_sync_now
from hardware.agent import Agent, AgentTask, PeriodicTask, TaskContext
from hardware.discovery import Announcement, Announcer, SeenService, discover
from hardware.lights import HardwareError
from hardware.runtime import build_agent, open_hardware
from hardware.status import (
    DeviceStatus,
    Sampler,
    Thresholds,
    health_record,
    sample_status,
    sources_from_settings,
)
from hardware.wifi_sheet import qr_svg, read_wifi_info, wifi_payload

__all__ = [
    "Agent",
    "AgentTask",
    "Announcement",
    "Announcer",
    "DeviceStatus",
    "HardwareError",
    "PeriodicTask",
    "Sampler",
    "SeenService",
    "TaskContext",
    "Thresholds",
    "build_agent",
    "discover",
    "health_record",
    "open_hardware",
    "qr_svg",
    "read_wifi_info",
    "request_sync_now",
    "sample_status",
    "sources_from_settings",
    "wifi_payload",
]
