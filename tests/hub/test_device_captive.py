"""Tablets joining the Wi-Fi are sent to the hub; with the portal off they hear "connected"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hardware.captive import APPLE_SUCCESS, PROBES, render_dnsmasq
from hub.app import create_app
from hub.db import database

# (host a tablet asks, path): the check URLs of each system, reached through the hub's DNS
CHECKS = [
    ("captive.apple.com", "/hotspot-detect.html"),
    ("www.apple.com", "/library/test/success.html"),
    ("connectivitycheck.gstatic.com", "/generate_204"),
    ("clients3.google.com", "/generate_204"),
    ("www.google.com", "/gen_204"),
    ("www.msftconnecttest.com", "/connecttest.txt"),
    ("www.msftncsi.com", "/ncsi.txt"),
]


@pytest.mark.parametrize(("host", "path"), CHECKS)
def test_checks_are_sent_to_the_hub_home_page(client: FlaskClient, host: str, path: str) -> None:
    r = client.get(path, headers={"Host": host})
    assert r.status_code == 302
    assert r.headers["Location"] == "http://ardoise.lan/"
    assert r.headers["Cache-Control"] == "no-store"


def test_windows_portal_page_opens_the_hub(client: FlaskClient) -> None:
    r = client.get("/redirect", headers={"Host": "www.msftconnecttest.com"})
    assert r.status_code == 302 and r.headers["Location"] == "http://ardoise.lan/"


@pytest.fixture
def portal_off(data_dir: Path) -> Any:
    app = create_app({"TESTING": True, "data_dir": str(data_dir), "captive_portal": False,
                      "hub_url": "http://10.42.0.1/"})
    yield app.test_client()
    database(app).engine.dispose()


@pytest.mark.parametrize(("path", "status", "body"), [
    ("/hotspot-detect.html", 200, APPLE_SUCCESS),
    ("/library/test/success.html", 200, APPLE_SUCCESS),
    ("/generate_204", 204, ""),
    ("/gen_204", 204, ""),
    ("/connecttest.txt", 200, "Microsoft Connect Test"),
    ("/ncsi.txt", 200, "Microsoft NCSI"),
])
def test_portal_off_answers_what_each_system_expects(portal_off: FlaskClient, path: str,
                                                     status: int, body: str) -> None:
    r = portal_off.get(path)
    assert r.status_code == status
    assert r.get_data(as_text=True) == body


def test_every_probe_is_tested() -> None:
    assert {p.path for p in PROBES} == {path for _h, path in CHECKS}


def test_rfc8908_api(client: FlaskClient, portal_off: FlaskClient) -> None:
    r = client.get("/api/v1/captive-portal")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/captive+json"
    assert "private" in r.headers["Cache-Control"]
    assert r.get_json(force=True) == {"captive": True, "user-portal-url": "http://ardoise.lan/",
                                      "venue-info-url": "http://ardoise.lan/"}
    off = portal_off.get("/api/v1/captive-portal").get_json(force=True)
    assert off == {"captive": False, "venue-info-url": "http://10.42.0.1/"}


def test_apple_check_wins_over_a_library_catch_all(data_dir: Path) -> None:
    """/library/ belongs to the library pages: even a catch-all rule there must not take
    the old Apple check URL (Werkzeug matches static rules before converters)."""
    app = create_app({"TESTING": True, "data_dir": str(data_dir)})
    from hub import access

    app.add_url_rule("/library/<path:anything>", "catch_all",
                     access.public(lambda anything: "library page"))
    try:
        r = app.test_client().get("/library/test/success.html")
        assert r.status_code == 302 and r.headers["Location"] == "http://ardoise.lan/"
        assert app.test_client().get("/library/test/other.html").get_data(
            as_text=True) == "library page"
    finally:
        database(app).engine.dispose()


def test_checks_are_public_and_need_no_sign_in(app: Flask) -> None:
    from hub import access

    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("captive.") or rule.endpoint == "api.captive_portal":
                assert access.policy_of(rule.endpoint) == access.PUBLIC


def test_dnsmasq_template_gives_option_114_only_for_https() -> None:
    conf = render_dnsmasq(interface="wlan0", hub_ip="10.42.0.1", range_start="10.42.0.10",
                          range_end="10.42.0.250",
                          api_url="https://hub-5a.cs-iles.example/api/v1/captive-portal")
    assert 'dhcp-option=114,"https://hub-5a.cs-iles.example/api/v1/captive-portal"' in conf
    assert "address=/#/10.42.0.1" in conf and "interface=wlan0" in conf
    assert "$" not in conf
    plain = render_dnsmasq(interface="wlan0", hub_ip="10.42.0.1", range_start="10.42.0.10",
                           range_end="10.42.0.250", api_url="http://10.42.0.1/api/v1/captive")
    assert "dhcp-option=114" not in plain and "needs an https://" in plain
