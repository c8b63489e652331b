"""The tiny core every Ardoise package shares: settings, errors, ids, clocks, database base.

Nothing here imports Flask, so `sync/` and `content_packs/` can use it from the web app,
the agent, the CLI and the central server alike.
"""

from ardoise.errors import (
    ArdoiseError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    SettingsError,
    StorageFull,
    TooLarge,
    Unauthorized,
    UnsupportedType,
)
from ardoise.ids import uuid7
from ardoise.settings import SETTINGS, Setting, Settings, load_settings

__version__ = "0.1.0"

__all__ = [
    "SETTINGS",
    "ArdoiseError",
    "Conflict",
    "Forbidden",
    "Invalid",
    "NotFound",
    "RateLimited",
    "Setting",
    "Settings",
    "SettingsError",
    "StorageFull",
    "TooLarge",
    "Unauthorized",
    "UnsupportedType",
    "__version__",
    "load_settings",
    "uuid7",
]
