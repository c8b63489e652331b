"""Due dates: entered and shown in the school's time zone, stored in UTC.

A teacher types "Friday 15:00" in a form (an <input type="datetime-local">, which has no
zone); the hub's time zone turns it into an instant. The API takes ISO 8601 with an
explicit offset instead, so a client never has to guess which zone the hub is in.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ardoise.errors import Invalid
from ardoise.i18n import N_


def zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def parse_local(text: str | None, tz_name: str, *, field: str = "due_at"
                ) -> dt.datetime | None:
    """A form's "YYYY-MM-DDTHH:MM" (or a bare date, meaning the end of that day) in the
    zone `tz_name`, as an aware UTC datetime. Empty means no date."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            local = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(23, 59))
        else:
            local = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(N_("The due date %(value)s is not a date and time (expected "
                         "YYYY-MM-DD HH:MM)."), value=text, field=field) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone(tz_name))
    return local.astimezone(dt.UTC)


def parse_iso(value: object, *, field: str = "due_at") -> dt.datetime | None:
    """An API's ISO 8601 date-time with offset ("2026-03-14T15:00:00-04:00" or "...Z"),
    as an aware UTC datetime. null means no date."""
    if value is None or value == "":
        return None
    parsed: dt.datetime | None = None
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise Invalid(N_("%(field)s must be an ISO 8601 date and time with its offset, "
                         "e.g. 2026-03-14T15:00:00-04:00."), field=field, value=str(value))
    return parsed.astimezone(dt.UTC)


def local_input_value(when: dt.datetime | None, tz_name: str) -> str:
    """The value for an <input type="datetime-local"> showing `when` in the hub's zone."""
    if when is None:
        return ""
    return when.astimezone(zone(tz_name)).strftime("%Y-%m-%dT%H:%M")


def iso(when: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, for the API."""
    if when is None:
        return None
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
