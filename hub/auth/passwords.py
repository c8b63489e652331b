"""Passwords of teachers and administrators: argon2id hashes, rules, generated passwords.

Parameters follow OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): memory-hard enough
to make a stolen database slow to crack, cheap enough for a Raspberry Pi where several
adults may sign in at once (see docs/decisions.md). A hash made with older parameters is
replaced at the next successful sign-in.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ardoise.errors import Invalid
from ardoise.i18n import N_

PASSWORD_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1,
                                 hash_len=32, salt_len=16, type=Type.ID)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200

# No 0/o, 1/l/i: generated passwords are read aloud and copied from paper.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def hash_password(password: str) -> str:
    return PASSWORD_HASHER.hash(password)


def check_hash(hasher: PasswordHasher, stored: str | None, given: str) -> tuple[bool, str | None]:
    """(matches, new hash or None): a new hash is returned when the stored one was made
    with other parameters, so the caller can save it."""
    if not stored:
        return False, None
    try:
        hasher.verify(stored, given)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if hasher.check_needs_rehash(stored):
        return True, hasher.hash(given)
    return True, None


def verify_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Check a password against its stored hash; see `check_hash` for the result."""
    return check_hash(PASSWORD_HASHER, stored, password)


def check_password_rules(password: str) -> None:
    """Refuse passwords too short to resist guessing (or absurdly long), saying the rule."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(N_("The password must have at least %(minimum)s characters (it has "
                         "%(length)s). A few words in a row are easy to remember."),
                      minimum=MIN_PASSWORD_LENGTH, length=len(password))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(N_("The password must have at most %(maximum)s characters."),
                      maximum=MAX_PASSWORD_LENGTH)


def generate_password(groups: int = 3, size: int = 4) -> str:
    """A random password like 'k7mq-x9pw-4rtb' (12 random characters, about 59 bits)."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(size))
                    for _ in range(groups))


_DUMMY_HASH: list[str] = []


def burn_time() -> None:
    """Spend the time of one verification, so an unknown username answers as slowly as a
    wrong password (no telling which usernames exist)."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(PASSWORD_HASHER.hash(secrets.token_hex(8)))
    check_hash(PASSWORD_HASHER, _DUMMY_HASH[0], "not the password")
