"""Time-ordered ids for rows that sync.

UUIDv7 (RFC 9562): 48 bits of Unix milliseconds then random bits, so ids sort by
creation time (good B-tree locality in SQLite) yet two hubs never collide. Python 3.11
has no `uuid.uuid7`, and the layout is ten lines, so we build it here.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7(ms: int | None = None) -> uuid.UUID:
    """A new UUIDv7; `ms` (Unix milliseconds) can be given for tests."""
    if ms is None:
        ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # 12 bits rand_a
    value |= 0b10 << 62  # variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # 62 bits rand_b
    return uuid.UUID(int=value)
