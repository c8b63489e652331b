"""The wall clock every package reads: aware UTC datetimes.

Kept apart from `ardoise.db` so processes that never load SQLAlchemy (the device agent)
share it too.
"""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


__all__ = ["utcnow"]
