"""Hybrid logical clock stamps: 48 bits of milliseconds, 16 bits of logical counter.

Stamps order changes without trusting wall clocks: a stamp is always above every stamp
this instance issued or observed before (the persisted last stamp is the floor), so a
Pi that boots in 1970 or in 2031 still orders its own edits correctly and merges
converge whatever the clocks say. Wall clocks only decide which of two *concurrent*
edits wins, deterministically. A remote stamp too far ahead of our reference time is
refused (`ClockSkew`) rather than dragging every clock years forward.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from ardoise.errors import Invalid
from ardoise.i18n import N_

LOGICAL_BITS = 16
LOGICAL_MASK = (1 << LOGICAL_BITS) - 1
MAX_STAMP = (1 << 63) - 1  # signed BIGINT on every backend

WallClock = Callable[[], float]


class ClockSkew(Invalid):
    """A stamp from another instance is absurdly far in the future."""

    status = 422
    code = "clock_skew"


def pack(ms: int, logical: int = 0) -> int:
    return (ms << LOGICAL_BITS) | (logical & LOGICAL_MASK)


def physical_ms(stamp: int) -> int:
    return stamp >> LOGICAL_BITS


def to_datetime(stamp: int) -> dt.datetime:
    """The wall-clock part of a stamp, for people (audit pages, logs)."""
    return dt.datetime.fromtimestamp(physical_ms(stamp) / 1000, dt.UTC)


def next_stamp(last: int, wall_ms: int) -> int:
    """The stamp after `last` at wall time `wall_ms`: never below `last` + 1."""
    candidate = pack(wall_ms)
    return candidate if candidate > last else last + 1


def check_remote(stamp: int, reference_ms: int, max_ahead_ms: int, *, what: str = "") -> None:
    """Refuse a remote stamp that is more than `max_ahead_ms` ahead of our reference time.

    The reference is max(our corrected wall clock, our last stamp), so a replica whose own
    clock is behind does not refuse honest peers: it only refuses what is ahead of
    everything it has ever seen by more than the allowed margin.
    """
    if stamp < 0 or stamp > MAX_STAMP:
        raise ClockSkew(N_("A change carries an impossible clock stamp (%(what)s)."),
                        what=what or "?")
    ahead = physical_ms(stamp) - reference_ms
    if ahead > max_ahead_ms:
        raise ClockSkew(
            N_("A change (%(what)s) is stamped %(days)s days ahead of this server's clock. "
               "The other device's clock is wrong: set its date and time, then sync again."),
            what=what or "?", days=round(ahead / 86_400_000, 1))


def wall_ms(clock: WallClock = time.time, offset_ms: int = 0) -> int:
    """Milliseconds of the wall clock corrected by an offset learned from the central."""
    return int(clock() * 1000) + offset_ms


__all__ = ["MAX_STAMP", "ClockSkew", "WallClock", "check_remote", "next_stamp", "pack",
           "physical_ms", "to_datetime", "wall_ms"]
