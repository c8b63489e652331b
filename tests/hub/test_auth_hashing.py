"""Passwords and codes: hashed with argon2id, verified, re-hashed when parameters change."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher

import hub
from ardoise.errors import Invalid
from hub.auth import (
    MIN_PASSWORD_LENGTH,
    PICTURE_BY_NAME,
    PICTURE_CODE_LENGTH,
    check_password_rules,
    check_picture_code,
    check_pin,
    generate_password,
    generate_picture_code,
    generate_pin,
    hash_code,
    hash_password,
    normalize_code,
    pictures_of,
    verify_code,
    verify_password,
)
from hub.auth.codes import CODE_HASHER
from hub.auth.passwords import PASSWORD_HASHER


def test_password_hash_is_argon2id_with_owasp_parameters() -> None:
    stored = hash_password("a long enough password")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "a long enough password" not in stored
    assert verify_password(stored, "a long enough password") == (True, None)
    assert verify_password(stored, "a long enough passworD") == (False, None)
    assert verify_password(None, "anything") == (False, None)
    assert verify_password("not a hash", "anything") == (False, None)


def test_same_password_hashes_differently() -> None:
    assert hash_password("same password here") != hash_password("same password here")


def test_old_parameters_are_rehashed_on_success() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("old password 1")
    ok, new = verify_password(old, "old password 1")
    assert ok and new is not None
    assert new.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(new, "old password 1") == (True, None)
    assert verify_password(old, "wrong") == (False, None)


def test_codes_use_lighter_parameters_and_normalise() -> None:
    stored = hash_code("soleil-chat-lune-arbre")
    assert stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert verify_code(stored, "Soleil chat, lune-arbre")[0]
    assert not verify_code(stored, "chat-soleil-lune-arbre")[0]
    assert not CODE_HASHER.check_needs_rehash(stored)
    assert PASSWORD_HASHER.check_needs_rehash(stored)  # not the same parameters


def test_pin_is_hashed_and_checked() -> None:
    stored = hash_code("0427")
    assert verify_code(stored, " 0427 ")[0]
    assert not verify_code(stored, "427")[0]


@pytest.mark.parametrize("password", ["", "short", "x" * (MIN_PASSWORD_LENGTH - 1)])
def test_short_passwords_are_refused_with_the_rule(password: str) -> None:
    with pytest.raises(Invalid) as err:
        check_password_rules(password)
    assert str(MIN_PASSWORD_LENGTH) in err.value.render("en")
    assert "au moins" in err.value.render("fr_CA")


def test_long_enough_password_passes() -> None:
    check_password_rules("x" * MIN_PASSWORD_LENGTH)
    with pytest.raises(Invalid):
        check_password_rules("x" * 201)


def test_generated_passwords_are_random_and_follow_the_rules() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for p in passwords:
        check_password_rules(p)
        assert len(p.replace("-", "")) >= 12
        assert not set(p) & set("0o1li")


def test_generated_picture_codes_are_distinct_known_pictures() -> None:
    codes = {generate_picture_code() for _ in range(50)}
    assert len(codes) > 40
    for code in codes:
        names = code.split("-")
        assert len(names) == PICTURE_CODE_LENGTH == len(set(names))
        assert all(n in PICTURE_BY_NAME for n in names)
        assert [p.name for p in pictures_of(code)] == names
        assert check_picture_code(code) == code


def test_generated_pins_are_digits() -> None:
    pin = generate_pin()
    assert len(pin) == 4 and pin.isdigit()
    assert check_pin(pin) == pin


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "12 34", "١٢٣٤"])
def test_bad_pins_are_refused(pin: str) -> None:
    with pytest.raises(Invalid, match="4 to 8 digits"):
        check_pin(pin)


def test_bad_picture_codes_are_refused() -> None:
    with pytest.raises(Invalid, match="Unknown picture licorne"):
        check_picture_code("soleil-licorne-lune-arbre")
    with pytest.raises(Invalid, match="4 pictures"):
        check_picture_code("soleil-lune")


def test_normalize_code() -> None:
    assert normalize_code(" 1234 ") == "1234"
    assert normalize_code("SOLEIL  Chat") == "soleil-chat"
    assert normalize_code("") == ""


def test_every_picture_has_a_file() -> None:
    static = Path(hub.__file__).with_name("static")
    for picture in PICTURE_BY_NAME.values():
        svg = (static / picture.filename).read_text()
        assert svg.startswith("<svg") and "viewBox" in svg
