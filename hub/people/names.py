"""Names: usernames made from full names, and the short names shown on the class picker.

The picker is public on the classroom Wi-Fi, so it shows the first name and the initial of
the last name ("Élodie C."), and more only where two students of the class would look the
same (see docs/decisions.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from ardoise.errors import Invalid
from ardoise.i18n import N_

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")
MAX_FULL_NAME = 200
FALLBACK_USERNAME = "user"


def strip_accents(text: str) -> str:
    """'Élodie Côté' -> 'Elodie Cote' (ligatures too: 'Œ' -> 'OE')."""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def clean_full_name(full_name: str) -> str:
    """Collapse spaces; refuse an empty, too long or control-character name."""
    name = " ".join((full_name or "").split())
    if not name:
        raise Invalid(N_("The name is missing."))
    if len(name) > MAX_FULL_NAME:
        raise Invalid(N_("The name is too long (at most %(maximum)s characters)."),
                      maximum=MAX_FULL_NAME)
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise Invalid(N_("The name contains invisible characters."))
    return name


def username_base(full_name: str) -> str:
    """'Élodie Côté' -> 'elodie.cote'; names with no Latin letters -> 'user'."""
    ascii_name = strip_accents(full_name).lower().replace("'", "").replace("’", "")
    words = re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", ascii_name)
    base = ".".join(words)[:70].strip(".-")
    return base or FALLBACK_USERNAME


def check_username(username: str) -> str:
    """Lower-case a username chosen by someone and refuse characters we do not allow."""
    value = (username or "").strip().lower()
    if not USERNAME_RE.fullmatch(value):
        raise Invalid(N_("The username %(username)s is not valid: use lower-case letters "
                         "without accents, digits, dots or dashes (up to 80)."),
                      username=username)
    return value


def unique_username(base: str, taken: Callable[[str], bool]) -> str:
    """`base`, or `base2`, `base3`... the first that `taken` says is free."""
    if not taken(base):
        return base
    n = 2
    while taken(f"{base}{n}"):
        n += 1
    return f"{base}{n}"


def short_name(full_name: str) -> str:
    """'Élodie Côté' -> 'Élodie C.'; a one-word name stays whole."""
    words = full_name.split()
    if len(words) < 2:
        return full_name
    if not words[-1][0].isalpha():  # "Élève 12": keep it whole
        return full_name
    return f"{words[0]} {words[-1][0]}."


def display_names(people: Iterable[tuple[object, str, str]]) -> dict[object, str]:
    """Names to show on the picker for (key, full name, username) triples: the short name,
    the full name where two short names collide, and the username where full names do."""
    people = list(people)
    shown = {key: short_name(full) for key, full, _u in people}
    for _round in range(2):
        counts: dict[str, int] = {}
        for name in shown.values():
            counts[name] = counts.get(name, 0) + 1
        for key, full, username in people:
            if counts[shown[key]] > 1:
                shown[key] = full if _round == 0 else f"{full} ({username})"
    return shown


def sort_key(name: str) -> str:
    """Alphabetical order the way people expect it: accents and case ignored."""
    return strip_accents(name).casefold()
