"""Column values to and from their wire form, checked against the column's type.

Wire forms are what msgpack carries compactly: UUIDs as 16 raw bytes, datetimes as
integer microseconds since the epoch (UTC), enums as their string value. Decoding is
strict, because frames come from outside: a value of the wrong type or too long for its
column is refused with the table and column named.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Enum, Integer, LargeBinary, String, Uuid

from ardoise.errors import Invalid
from ardoise.i18n import N_

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_INT = 1 << 63


def encode(value: Any) -> Any:
    """A Python value read from the database, in wire form."""
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        delta = value - EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _kind(col: Column) -> str:  # type: ignore[type-arg]
    t = col.type
    impl = getattr(t, "impl", None)
    for candidate in (t, impl):
        if isinstance(candidate, Uuid):
            return "uuid"
        if isinstance(candidate, Boolean):
            return "bool"
        if isinstance(candidate, DateTime):
            return "datetime"
        if isinstance(candidate, Enum):
            return "enum"
        if isinstance(candidate, Integer):
            return "int"
        if isinstance(candidate, LargeBinary):
            return "bytes"
        if isinstance(candidate, String):
            return "str"
    return "other"


def decode(col: Column, value: Any, table: str) -> Any:  # type: ignore[type-arg]
    """A wire value as the Python value for `col`, or Invalid naming what is wrong."""
    if value is None:
        if not col.nullable:
            raise _bad(table, col, "null")
        return None
    kind = _kind(col)
    try:
        if kind == "uuid":
            if not isinstance(value, bytes) or len(value) != 16:
                raise ValueError
            return uuid.UUID(bytes=value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind == "datetime":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError
            return EPOCH + dt.timedelta(microseconds=value)
        if kind == "int":
            if not isinstance(value, int) or isinstance(value, bool) or abs(value) >= MAX_INT:
                raise ValueError
            return value
        if kind == "bytes":
            if not isinstance(value, bytes):
                raise ValueError
            return value
        if kind in ("str", "enum"):
            if not isinstance(value, str):
                raise ValueError
            length = getattr(col.type, "length", None)
            if length is not None and len(value) > length:
                raise ValueError
            if kind == "enum":
                allowed = getattr(col.type, "enums", None)
                if allowed and value not in allowed:
                    raise ValueError
            return value
        if isinstance(value, (str, int, float, bool)):
            return value
        raise ValueError
    except (ValueError, OverflowError):
        raise _bad(table, col, type(value).__name__) from None


def _bad(table: str, col: Column, got: str) -> Invalid:  # type: ignore[type-arg]
    return Invalid(N_("A frame carries a wrong value for %(table)s.%(column)s (%(got)s)."),
                   table=table, column=col.name, got=got)


def comparable(value: Any) -> Any:
    """A value in a form that compares equal across the database and the wire."""
    return encode(value)


__all__ = ["comparable", "decode", "encode"]
