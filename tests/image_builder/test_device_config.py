"""ardoise.toml on the boot partition: every invalid field is named, all at once, in both
languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_builder.firstboot.config import read_device_config, validate

GOOD = {
    "school": {"name": "École des Îles", "hub_name": "classe-5e"},
    "wifi": {"country": "CA", "ssid": "Ardoise 5e", "passphrase": "tablettes-2026",
             "channel": 6},
    "central": {"url": "https://central.example.org",
                "enrollment_token": "tok_0123456789abcdef"},
    "locale": {"timezone": "America/Toronto", "language": "fr_CA"},
    "packs": {"trusted_keys": ["RECIT:" + "ab" * 32]},
    "ssh": {"authorized_keys": [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@css"]},
}


def with_(key: str, value: object) -> dict:
    data = {k: dict(v) for k, v in GOOD.items()}
    section, name = key.split(".")
    if value is None:
        data[section].pop(name)
    else:
        data[section][name] = value
    return data


def test_good_file_is_accepted() -> None:
    config, problems = validate(GOOD)
    assert problems == []
    assert config is not None
    assert config.hub_name == "classe-5e" and config.wifi_channel == 6
    assert config.trusted_keys == ("RECIT:" + "ab" * 32,)


def test_defaults_for_optional_keys() -> None:
    config, problems = validate({"school": {"name": "X", "hub_name": "hub1"},
                                 "wifi": {"country": "CA"}})
    assert problems == [] and config is not None
    assert config.language == "fr_CA"
    assert config.timezone == "America/Toronto"
    assert config.wifi_ssid == "Ardoise-hub1"
    assert config.wifi_passphrase is None  # generated at first boot
    assert config.ssh_keys == ()  # SSH stays off


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("school.name", None, "required"),
    ("school.name", 12, "text"),
    ("school.hub_name", "Classe 5e", "lowercase"),
    ("school.hub_name", None, "required"),
    ("wifi.country", "Canada", "at most 2"),
    ("wifi.country", "ZZ", "country code"),
    ("wifi.ssid", "é" * 17, "32 bytes"),
    ("wifi.passphrase", "short", "8 to 63"),
    ("wifi.passphrase", "mot de passe accentué", "unaccented"),
    ("wifi.channel", 12, "not allowed in CA"),
    ("wifi.channel", 0, "between 1 and 13"),
    ("wifi.channel", "6", "whole number"),
    ("central.url", "central.example.org", "https://"),
    ("central.enrollment_token", "abc", "enrollment token"),
    ("locale.timezone", "Toronto time", "time zone"),
    ("locale.language", "de", "fr_CA, en"),
    ("packs.trusted_keys", ["not-a-key"], "Ed25519"),
    ("packs.trusted_keys", 5, "list"),
    ("ssh.authorized_keys", ["hello world"], "SSH public key"),
    ("ssh.authorized_keys", ["ssh-ed25519 !!!notbase64"], "base64"),
    ("wifi.pasphrase", "misspelt", "Unknown key"),
])
def test_each_invalid_field_is_named(key: str, value: object, fragment: str) -> None:
    config, problems = validate(with_(key, value))
    assert config is None
    assert [p.key.split("[")[0] for p in problems] == [key]
    assert fragment in problems[0].render("en")
    french = problems[0].render("fr_CA")
    assert french.startswith(key) and french != problems[0].render("en")


def test_token_without_url() -> None:
    _, problems = validate(with_("central.url", None))
    assert [p.key for p in problems] == ["central.url"]


def test_every_problem_is_listed_at_once() -> None:
    data = with_("wifi.country", "ZZ")
    data["school"]["hub_name"] = "Bad Name"
    data["locale"]["language"] = "es"
    data["ssh"]["authorized_keys"] = ["ssh-ed25519 AAAA ok", "nope"]
    _, problems = validate(data)
    assert sorted(p.key for p in problems) == [
        "locale.language", "school.hub_name", "ssh.authorized_keys[2]", "wifi.country"]
    bilingual = problems[0].render_bilingual()
    assert " / " in bilingual


def test_unknown_time_zone_with_tzdata(tmp_path: Path) -> None:
    zones = tmp_path / "zoneinfo"
    (zones / "America").mkdir(parents=True)
    (zones / "America/Toronto").write_text("tz")
    ok, problems = validate(GOOD, zones)
    assert problems == [] and ok is not None
    _, problems = validate(with_("locale.timezone", "America/Atlantis"), zones)
    assert [p.key for p in problems] == ["locale.timezone"]


def test_section_that_is_not_a_table() -> None:
    _, problems = validate({**GOOD, "wifi": "CA"})
    assert "wifi" in [p.key for p in problems]


def test_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "ardoise.toml"
    bad.write_text('[school]\nname = "unterminated\n')
    _, problems = read_device_config(bad)
    assert problems[0].key == "ardoise.toml" and "TOML" in problems[0].render("en")
    _, problems = read_device_config(tmp_path / "absent.toml")
    assert "does not exist" in problems[0].render("en")
    bad.write_bytes(b"\xff\xfe[school]")
    _, problems = read_device_config(bad)
    assert "UTF-8" in problems[0].render("en")


def test_shipped_template_is_valid_once_filled(tmp_path: Path) -> None:
    """The commented template put on the boot partition parses, and needs only the three
    required keys filled in."""
    template = Path(__file__).resolve().parents[2] / "image_builder/files/ardoise.toml"
    _, problems = read_device_config(template)
    assert sorted(p.key for p in problems) == ["school.hub_name", "school.name",
                                               "wifi.country"]
