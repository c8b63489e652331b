"""Failed sign-ins counted per account and per address, in the database.

Counting in the database (the `login_attempt` table) makes the limit hold across the web
processes and restarts. Only failures are written: a successful sign-in costs no write
unless the account had failures to clear. The Pi's clock may jump after a power cut, so
only attempts inside [now - window, now] count, and rows outside it are pruned.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ardoise.db import utcnow
from ardoise.errors import RateLimited
from ardoise.i18n import N_
from hub.models import LoginAttempt


@dataclass(frozen=True)
class Limits:
    """How many failures are allowed per account and per address within the window."""

    per_account: int = 5
    per_address: int = 20
    window_seconds: int = 300

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Limits:
        return cls(per_account=settings["login_attempts"],
                   per_address=settings["login_attempts_per_address"],
                   window_seconds=settings["login_window_seconds"])

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.window_seconds)


def account_key(account: object) -> str:
    """Key of an account: its id, or for an unknown username the name tried."""
    return f"account:{account}"


def address_key(address: str | None) -> str:
    return f"address:{address or 'unknown'}"


def _recent(s: Session, key: str, limits: Limits, now: dt.datetime) -> list[dt.datetime]:
    rows = s.scalars(select(LoginAttempt.at).where(
        LoginAttempt.key == key, LoginAttempt.at >= now - limits.window,
        LoginAttempt.at <= now).order_by(LoginAttempt.at))
    return list(rows)


def failures(s: Session, key: str, limits: Limits, now: dt.datetime | None = None) -> int:
    return len(_recent(s, key, limits, now or utcnow()))


def check(s: Session, *, account: str, address: str, limits: Limits,
          now: dt.datetime | None = None) -> int:
    """Raise RateLimited, saying when to try again, if either key is over its limit.

    Returns the account's failures in the window (so success can skip a useless write).
    """
    now = now or utcnow()
    account_times = _recent(s, account, limits, now)
    for times, limit, message in (
        (account_times, limits.per_account,
         N_("Too many failed attempts for this account. Try again in %(minutes)s min.")),
        (_recent(s, address, limits, now), limits.per_address,
         N_("Too many failed attempts from this device. Try again in %(minutes)s min.")),
    ):
        if len(times) >= limit:
            # The window must slide past enough failures to bring the count under the limit.
            free_at = times[len(times) - limit] + limits.window
            seconds = max(1, math.ceil((free_at - now).total_seconds()))
            raise RateLimited(message, minutes=max(1, math.ceil(seconds / 60)),
                              retry_after_seconds=seconds)
    return len(account_times)


def record_failure(s: Session, *, account: str, address: str, limits: Limits,
                   now: dt.datetime | None = None) -> None:
    """Count one failure against both keys and prune rows that can no longer count."""
    now = now or utcnow()
    prune(s, limits, now)
    s.add_all([LoginAttempt(key=account, at=now), LoginAttempt(key=address, at=now)])
    s.flush()


def clear(s: Session, key: str) -> None:
    """Forget the failures of one key (an account after a successful sign-in)."""
    s.execute(delete(LoginAttempt).where(LoginAttempt.key == key))


def prune(s: Session, limits: Limits, now: dt.datetime | None = None) -> None:
    """Delete attempts outside the window: too old, or dated in the future by a clock that
    has since been set back."""
    now = now or utcnow()
    s.execute(delete(LoginAttempt).where(or_(LoginAttempt.at < now - limits.window,
                                             LoginAttempt.at > now + limits.window)))
