"""Who this device is, for announcing it: its id, its short id, its school (read from the
database by `hardware.store.SqliteStore.school`).

The device id is made once, on the device (never in the image, so cloned SD cards flashed
from one image still differ), and kept in data_dir/device_id.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from ardoise.ids import uuid7

DEVICE_ID_FILE = "device_id"


def device_id(data_dir: Path) -> str:
    """This device's id, created on first use (safe if two processes race)."""
    path = Path(data_dir) / DEVICE_ID_FILE
    try:
        return str(uuid.UUID(path.read_text().strip()))
    except (FileNotFoundError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{DEVICE_ID_FILE}.{os.getpid()}")
    tmp.write_text(str(uuid7()) + "\n")
    try:
        os.link(tmp, path)  # fails if another process made it first: keep theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return str(uuid.UUID(path.read_text().strip()))


def short_id(dev_id: str) -> str:
    """Four hex digits from the random end of the id (the start is a timestamp, alike on
    hubs set up the same day)."""
    return uuid.UUID(dev_id).hex[-4:]


@dataclass(frozen=True)
class SchoolInfo:
    code: str = ""
    name: str = ""


__all__ = ["SchoolInfo", "device_id", "short_id"]
