"""The settings file a technician edits on the card's boot partition (`ardoise.toml`).

`read_device_config` returns the validated settings and the list of every problem found;
nothing is applied unless that list is empty. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path

from image_builder.messages import N_
from image_builder.schema import Problem, Reader, load_toml

FILE_NAME = "ardoise.toml"

# ISO 3166-1 alpha-2: the regulatory domain decides which Wi-Fi channels are legal.
COUNTRIES = frozenset(
    """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
ZW""".split()  # noqa: SIM905
)
# 2.4 GHz channels 12 and 13 are not allowed in North America.
MAX_CHANNEL = {"CA": 11, "US": 11, "MX": 11}

HOSTNAME_RE = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
TOKEN_RE = r"[A-Za-z0-9._~+/=-]{16,512}"
SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                 "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
                 "sk-ecdsa-sha2-nistp256@openssh.com")
LANGUAGES = ("fr_CA", "en")


@dataclass(frozen=True)
class DeviceConfig:
    school_name: str
    hub_name: str
    wifi_country: str
    wifi_ssid: str
    wifi_passphrase: str | None  # None: keep the current one, or generate one
    wifi_channel: int
    central_url: str | None
    enrollment_token: str | None
    timezone: str
    language: str
    trusted_keys: tuple[str, ...] = ()
    ssh_keys: tuple[str, ...] = field(default=())


def check_ssh_key(line: str) -> str | None:
    parts = line.split()
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        return N_("Not an SSH public key: paste one line of a .pub file, starting with "
                  "ssh-ed25519 (or ssh-rsa, ecdsa-sha2-...).")
    try:
        base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return N_("The key part of this SSH public key is damaged (not base64).")
    return None


def publisher_key_bytes(value: str) -> bytes | None:
    """A publisher key is an Ed25519 public key (32 bytes) in base64 or hex, optionally
    labelled `name:KEY`."""
    raw = value.rsplit(":", 1)[-1].strip()
    for decode in (bytes.fromhex, lambda s: base64.b64decode(s, validate=True)):
        try:
            key = decode(raw)
        except (binascii.Error, ValueError):
            continue
        if len(key) == 32:
            return key
    return None


def check_publisher_key(value: str) -> str | None:
    if publisher_key_bytes(value) is None:
        return N_("Not a publisher key: expected an Ed25519 public key (32 bytes) in base64 "
                  "or hex, optionally preceded by a name and a colon.")
    return None


def check_passphrase(value: str) -> str | None:
    if len(value) == 64 and re.fullmatch(r"[0-9a-fA-F]{64}", value):
        return None
    if not 8 <= len(value) <= 63:
        return N_("A Wi-Fi passphrase has 8 to 63 characters. Remove the line to have "
                  "one generated.")
    if not all(32 <= ord(c) <= 126 for c in value):
        return N_("A Wi-Fi passphrase may contain only unaccented letters, digits, spaces "
                  "and punctuation.")
    return None


def validate(data: dict[str, object], timezones: Path | None = None
             ) -> tuple[DeviceConfig | None, list[Problem]]:
    r = Reader(data)
    for section in ("school", "wifi", "central", "locale", "packs", "ssh"):
        r.section(section)
    school = r.text("school.name", required=True, max_len=100)
    hub = r.text("school.hub_name", required=True, max_len=63, pattern=HOSTNAME_RE,
                 pattern_help=N_("Use lowercase letters, digits and dashes only (it "
                                 "becomes the hub's network name), not %(value)s."))
    country = r.text("wifi.country", required=True, max_len=2)
    if country is not None and country not in COUNTRIES:
        r.add("wifi.country", N_("Not a two-letter country code (for example CA), "
                                 "not %(value)s."), value=country)
        country = None
    ssid = r.text("wifi.ssid", default=f"Ardoise-{hub}" if hub else "Ardoise")
    if ssid is not None and not 1 <= len(ssid.encode()) <= 32:
        r.add("wifi.ssid", N_("A network name has at most 32 bytes (accented letters "
                              "count for two)."))
    passphrase = r.text("wifi.passphrase")
    if passphrase is not None and (msg := check_passphrase(passphrase)):
        r.add("wifi.passphrase", msg)
    channel = r.integer("wifi.channel", 6, minimum=1, maximum=13)
    if channel and country and channel > MAX_CHANNEL.get(country, 13):
        r.add("wifi.channel", N_("Channel %(channel)s is not allowed in %(country)s: "
                                 "use 1 to %(max)s."), channel=channel, country=country,
              max=MAX_CHANNEL[country])
    url = r.text("central.url", pattern=r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/\S*)?",
                 pattern_help=N_("Must be an address like https://central.example.org, "
                                 "not %(value)s."))
    token = r.text("central.enrollment_token", pattern=TOKEN_RE,
                   pattern_help=N_("An enrollment token is the long code given by the "
                                   "central server (at least 16 letters and digits)."))
    if token and not url and not any(p.key == "central.url" for p in r.problems):
        r.add("central.url", N_("An enrollment token needs the central server's address "
                                "too."))
    tz = r.text("locale.timezone", "America/Toronto",
                pattern=r"[A-Za-z_]+(/[A-Za-z0-9_+-]+){0,2}|UTC",
                pattern_help=N_("Must be a time zone like America/Toronto, not %(value)s."))
    if tz and timezones is not None and timezones.is_dir() and not (timezones / tz).is_file():
        r.add("locale.timezone", N_("Unknown time zone %(value)s (for example "
                                    "America/Toronto, America/Halifax)."), value=tz)
        tz = None
    language = r.text("locale.language", "fr_CA", choices=LANGUAGES)
    keys = r.text_list("packs.trusted_keys", check_publisher_key)
    ssh = r.text_list("ssh.authorized_keys", check_ssh_key)
    r.reject_unknown(["", "school", "wifi", "central", "locale", "packs", "ssh"])
    if r.problems:
        return None, r.problems
    assert school and hub and country and ssid and channel and tz and language
    return DeviceConfig(
        school_name=school, hub_name=hub, wifi_country=country, wifi_ssid=ssid,
        wifi_passphrase=passphrase, wifi_channel=channel, central_url=url,
        enrollment_token=token, timezone=tz, language=language, trusted_keys=tuple(keys),
        ssh_keys=tuple(ssh)), []


def read_device_config(path: Path, timezones: Path | None = None
                       ) -> tuple[DeviceConfig | None, list[Problem]]:
    data, problems = load_toml(path)
    if problems:
        return None, problems
    return validate(data, timezones)
