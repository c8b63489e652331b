"""Per-field stamps of a row, kept compact in its `sync_fields` column.

Every user-data field of a synced row has a stamp: the HLC and the instance of the change
that wrote its current value. Most fields share the stamp of the row's last change
(`sync_hlc`, `sync_instance`); only the others are written down, grouped by stamp:
`[[hlc, "instance hex", ["field", ...]], ...]`. A freshly created row stores nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

FieldStamp = tuple[int, uuid.UUID]  # (hlc, instance)


def order_key(stamp: FieldStamp) -> tuple[int, bytes]:
    """Total order of stamps: HLC first, then the instance id bytes (deterministic tie-break)."""
    return stamp[0], stamp[1].bytes


def decode(text: str | None, base: FieldStamp, fields: Iterable[str]) -> dict[str, FieldStamp]:
    """Stamps of every field: the listed exceptions, the row's base stamp for the rest."""
    stamps = dict.fromkeys(fields, base)
    if text:
        for hlc, inst, names in json.loads(text):
            stamp = (int(hlc), uuid.UUID(hex=inst))
            for name in names:
                if name in stamps:
                    stamps[name] = stamp
    return stamps


def encode(stamps: dict[str, FieldStamp], base: FieldStamp) -> str | None:
    """The exceptions to `base`, grouped by stamp; None when every field has the base stamp."""
    groups: dict[FieldStamp, list[str]] = {}
    for name, stamp in stamps.items():
        if stamp != base:
            groups.setdefault(stamp, []).append(name)
    if not groups:
        return None
    return json.dumps([[h, i.hex, sorted(names)] for (h, i), names in
                       sorted(groups.items(), key=lambda kv: order_key(kv[0]))],
                      separators=(",", ":"))


def restamp(old_text: str | None, old_base: FieldStamp, fields: list[str],
            changed: Iterable[str], new_base: FieldStamp) -> str | None:
    """`sync_fields` after a local change of `changed` fields stamped `new_base`."""
    stamps = decode(old_text, old_base, fields)
    for name in changed:
        if name in stamps:
            stamps[name] = new_base
    return encode(stamps, new_base)


def well_formed(text: str | None) -> bool:
    """Whether `sync_fields` from outside has the expected shape (checked before merging)."""
    if text is None:
        return True
    try:
        groups = json.loads(text)
        return isinstance(groups, list) and all(
            isinstance(g, list) and len(g) == 3 and isinstance(g[0], int)
            and 0 <= g[0] < 1 << 63 and isinstance(g[1], str) and uuid.UUID(hex=g[1]) is not None
            and isinstance(g[2], list) and all(isinstance(n, str) for n in g[2])
            for g in groups)
    except (ValueError, TypeError):
        return False


__all__ = ["FieldStamp", "decode", "encode", "order_key", "restamp", "well_formed"]
