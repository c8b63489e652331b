"""Students' sign-in codes: a short sequence of pictures, or a PIN.

A picture code is written as the picture names joined by "-" ("soleil-chat-lune-arbre");
a PIN as its digits. Codes are hashed with argon2id, with lighter parameters than
passwords: a code space this small (about 12 000 picture codes) cannot be protected by the
hash anyway, rate limiting is the real defence, and a class of 30 signs in at the same
minute on a Raspberry Pi (see docs/decisions.md).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, Type

from ardoise.errors import Invalid
from ardoise.i18n import N_
from hub.auth.passwords import check_hash

CODE_HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1,
                             hash_len=32, salt_len=16, type=Type.ID)

PICTURE_CODE_LENGTH = 4
PIN_MIN_LENGTH = 4
PIN_MAX_LENGTH = 8


@dataclass(frozen=True)
class Picture:
    """A picture of the code pad: its id (used in codes and file names) and its label."""

    name: str
    label: str  # English message id, translated at the edge

    @property
    def filename(self) -> str:
        return f"pictures/{self.name}.svg"


PICTURES: tuple[Picture, ...] = (
    Picture("soleil", N_("sun")),
    Picture("lune", N_("moon")),
    Picture("etoile", N_("star")),
    Picture("arbre", N_("tree")),
    Picture("fleur", N_("flower")),
    Picture("pomme", N_("apple")),
    Picture("poisson", N_("fish")),
    Picture("chat", N_("cat")),
    Picture("maison", N_("house")),
    Picture("bateau", N_("boat")),
    Picture("coeur", N_("heart")),
    Picture("parapluie", N_("umbrella")),
)
PICTURE_BY_NAME = {p.name: p for p in PICTURES}


def generate_picture_code(length: int = PICTURE_CODE_LENGTH) -> str:
    """A random code of distinct pictures (no picture twice: easier for young children)."""
    names = [p.name for p in PICTURES]
    chosen = []
    for _ in range(length):
        pick = secrets.choice(names)
        names.remove(pick)
        chosen.append(pick)
    return "-".join(chosen)


def generate_pin(length: int = PIN_MIN_LENGTH) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def is_pin(code: str) -> bool:
    return code.isascii() and code.isdigit()


def normalize_code(code: str) -> str:
    """The canonical form of what was typed or tapped: digits for a PIN, lower-case picture
    names joined by "-" for a picture code ("Soleil, chat" -> "soleil-chat")."""
    code = code.strip()
    if is_pin(code):
        return code
    return "-".join(part for part in re.split(r"[\s,;\-]+", code.lower()) if part)


def pictures_of(code: str) -> list[Picture]:
    """The pictures of a picture code, in order; unknown names are skipped."""
    return [PICTURE_BY_NAME[n] for n in normalize_code(code).split("-") if n in PICTURE_BY_NAME]


def check_picture_code(code: str) -> str:
    """Validate a picture code chosen by someone (not generated) and return its canonical form."""
    canonical = normalize_code(code)
    names = canonical.split("-") if canonical else []
    unknown = [n for n in names if n not in PICTURE_BY_NAME]
    if unknown:
        raise Invalid(N_("Unknown picture %(name)s: the pictures are %(names)s."),
                      name=unknown[0], names=", ".join(PICTURE_BY_NAME))
    if len(names) != PICTURE_CODE_LENGTH:
        raise Invalid(N_("A picture code has %(count)s pictures."), count=PICTURE_CODE_LENGTH)
    return canonical


def check_pin(pin: str) -> str:
    """Validate a PIN chosen by a teacher: digits only, 4 to 8 of them."""
    pin = pin.strip()
    if not is_pin(pin) or not PIN_MIN_LENGTH <= len(pin) <= PIN_MAX_LENGTH:
        raise Invalid(N_("A PIN has %(minimum)s to %(maximum)s digits and nothing else."),
                      minimum=PIN_MIN_LENGTH, maximum=PIN_MAX_LENGTH)
    return pin


def hash_code(code: str) -> str:
    return CODE_HASHER.hash(normalize_code(code))


def verify_code(stored: str | None, code: str) -> tuple[bool, str | None]:
    """(matches, new hash or None), as `passwords.check_hash`."""
    return check_hash(CODE_HASHER, stored, normalize_code(code))
