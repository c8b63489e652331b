"""The Wi-Fi QR payload, escaped as camera apps expect, and decoded back from the SVG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hardware.wifi_sheet import escape, qr_svg, read_wifi_info, wifi_payload
from tests.hardware.qr import decode_all


@pytest.mark.parametrize(("ssid", "password", "expected"), [
    ("Ardoise-5A", "abcd-efgh-jkmn", "WIFI:T:WPA;S:Ardoise-5A;P:abcd-efgh-jkmn;;"),
    ('Classe; "Mme Roy"', r"a:b,c\d", r'WIFI:T:WPA;S:Classe\; \"Mme Roy\";P:a\:b\,c\\d;;'),
    ("École des Îles", None, "WIFI:T:nopass;S:École des Îles;;"),
])
def test_payload_escapes_special_characters(ssid: str, password: str | None,
                                            expected: str) -> None:
    assert wifi_payload(ssid, password) == expected


def test_escape_and_hidden_networks() -> None:
    assert escape(r'\;,:"') == r'\\\;\,\:\"'
    assert wifi_payload("A", "pw", hidden=True).endswith("P:pw;H:true;;")
    with pytest.raises(ValueError):
        wifi_payload("", "pw")


@pytest.mark.parametrize("payload", [
    wifi_payload('Classe; "Mme Roy"', r"a:b,c\d"),
    wifi_payload("École des Îles", None),
    "http://ardoise.lan/",
])
def test_the_svg_decodes_back_to_the_payload(payload: str) -> None:
    assert decode_all(qr_svg(payload, title="t")) == [payload]


def test_reads_what_first_boot_wrote(tmp_path: Path) -> None:
    assert read_wifi_info(tmp_path) is None
    (tmp_path / "status").mkdir()
    (tmp_path / "status/wifi.json").write_text(json.dumps(
        {"ssid": "Ardoise-5A", "passphrase": "abcd-efgh-jkmn", "client_capacity": 16}))
    info = read_wifi_info(tmp_path)
    assert info is not None
    assert (info.ssid, info.password, info.capacity) == ("Ardoise-5A", "abcd-efgh-jkmn", 16)
    (tmp_path / "status/wifi.json").write_text("{not json")
    assert read_wifi_info(tmp_path) is None
