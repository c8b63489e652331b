"""The device status page, /api/v1/status and `ardoise status` show one status; "Sync now"
makes a request the agent picks up; the classroom sheet's QR codes decode back."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from ardoise import device
from hardware import status as hw_status
from hub.cli import main
from hub.db import database
from tests.factories import make_world, sign_in_as
from tests.hardware.conftest import fake_sources, make_tree
from tests.hardware.qr import decode_all


@pytest.fixture
def fake_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path) -> Path:
    """Every status sample (web and CLI) reads the same fake Raspberry Pi."""
    root = make_tree(tmp_path / "root", temp_millic=81500, throttled="50000")

    def sources(settings: Any, sessions: Any = None, *, check_web: bool = True) -> Any:
        return fake_sources(root, data_dir, sessions, free=300 * 10**6,
                            web_url="http://127.0.0.1:8000/api/v1/status",
                            http_get=lambda url, timeout: 200)

    monkeypatch.setattr(hw_status, "sources_from_settings", sources)
    return root


def _record_sync(app: Flask) -> None:
    with database(app).sessions() as s:
        device.record_task_result(s, "sync", ok=False, message="central unreachable")
        device.write_state(s, device.AGENT_KEY, {"hardware": "on", "lights": {
            "green": "on", "yellow": "off", "red": "code-3"}, "stopped": False})
        s.commit()


def _cli(data_dir: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["status", *args], env={
        "ARDOISE_DATA_DIR": str(data_dir), "ARDOISE_LANGUAGE": "en"})
    assert result.exit_code == 0, result.output
    return result.output


def _volatile(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in ("sampled_at", "sample_ms")}


def test_page_cli_and_api_show_the_same_status(app: Flask, client: FlaskClient, data_dir: Path,
                                                fake_machine: Path) -> None:
    world = make_world(app, n_students=1)
    _record_sync(app)
    sign_in_as(client, world.admin)
    client.get("/lang/en")

    cli_json = json.loads(_cli(data_dir, "--json"))
    api = client.get("/api/v1/status").get_json()
    page = client.get("/admin/status")
    assert page.status_code == 200
    text = page.get_data(as_text=True)

    assert cli_json["state"] == "attention"
    assert cli_json["problems"] == ["too_hot", "storage_full", "sync_failed"]
    assert cli_json["blink_code"] == 3
    assert cli_json["cpu_temp_c"] == 81.5
    assert cli_json["last_sync"]["message"] == "central unreachable"
    # the API's public part is the same status, cut down
    public = api["device"]
    assert public["state"] == cli_json["state"]
    assert public["problems"] == cli_json["problems"]
    assert public["blink_code"] == cli_json["blink_code"]
    assert public["last_sync_ok"] is False
    assert public["last_sync_at"] == cli_json["last_sync"]["at"]
    # the page and the CLI table: the same lines, word for word
    page_rows = [(html.unescape(k).strip(), html.unescape(v).strip()) for k, v in re.findall(
        r"<th scope=\"row\">(.*?)</th><td>(.*?)</td>", text, flags=re.S)]
    cli_rows = [(line[3:].split("  ", 1)[0].strip(), line[3:].split("  ", 1)[1].strip())
                for line in _cli(data_dir).splitlines()[1:] if line.strip()]
    assert page_rows == cli_rows
    assert ("CPU temperature", "81.5 °C") in page_rows
    assert ("Web pages", "served") in page_rows
    assert ("Lights now", "green: on, yellow: off, red: 3 blinks") in page_rows
    assert any(label == "Problem" and "(red light: 3 blinks)" in value
               for label, value in page_rows)
    assert "Needs attention" in text


def test_json_status_is_the_full_model(app: Flask, data_dir: Path, fake_machine: Path) -> None:
    body = json.loads(_cli(data_dir, "--json"))
    assert _volatile(body).keys() >= {"state", "problems", "warnings", "cpu_temp_c", "throttling",
                                      "memory", "load", "disk", "wifi", "sd", "last_sync",
                                      "packs", "agent", "unknown"}
    assert body["wifi"]["clients"] == 3
    assert body["sd"] == {"device": "mmcblk0", "written_bytes_since_boot": 2_000_000 * 512}
    assert "agent_stopped" in body["warnings"]  # no agent heartbeat in this database


def test_public_status_has_no_personal_data(client: FlaskClient, app: Flask,
                                            fake_machine: Path) -> None:
    make_world(app, n_students=1)
    body = client.get("/api/v1/status").get_json()
    assert set(body["device"]) == {"state", "blink_code", "problems", "last_sync_at",
                                   "last_sync_ok", "sampled_at"}
    raw = json.dumps(body)
    for personal in ("Mme Roy", "eleve0", "tech", "littoral"):
        assert personal not in raw


def test_status_page_is_for_admins_only(app: Flask, client: FlaskClient,
                                        fake_machine: Path) -> None:
    world = make_world(app, n_students=1)
    assert client.get("/admin/status").status_code == 302  # to sign in
    sign_in_as(client, world.teacher)
    assert client.get("/admin/status").status_code == 403
    sign_in_as(client, world.admin)
    assert client.get("/admin/status").status_code == 200


def test_sync_now_makes_one_request_for_the_agent(app: Flask, client: FlaskClient,
                                                  fake_machine: Path) -> None:
    world = make_world(app, n_students=1)
    sign_in_as(client, world.teacher)
    with client.session_transaction() as sess:
        sess["lang"] = "en"
    token_page = client.get("/device/wifi-sheet")
    assert token_page.status_code == 200
    app.config["WTF_CSRF_ENABLED"] = False
    for _ in range(3):
        r = client.post("/device/sync-now", data={"next": "/teacher/"})
        assert r.status_code == 302 and r.headers["Location"].endswith("/teacher/")
    with database(app).sessions() as s:
        pending = device.pending_requests(s)
    assert [(p.kind, p.source) for p in pending] == [("sync_now", "web")]
    sign_in_as(client, world.students[0])
    assert client.post("/device/sync-now").status_code == 403


def test_sync_now_needs_the_csrf_token(app: Flask, client: FlaskClient) -> None:
    world = make_world(app, n_students=1)
    sign_in_as(client, world.admin)
    r = client.post("/device/sync-now")
    assert r.status_code == 400
    with database(app).sessions() as s:
        assert device.pending_requests(s) == []


def test_wifi_sheet_qr_codes_decode_to_the_network_and_the_address(
        app: Flask, client: FlaskClient, data_dir: Path) -> None:
    (data_dir / "status").mkdir()
    (data_dir / "status/wifi.json").write_text(json.dumps(
        {"ssid": "Ardoise; 5e", "passphrase": "abcd-efgh:jkmn", "client_capacity": 16}))
    world = make_world(app, n_students=1)
    sign_in_as(client, world.teacher)
    r = client.get("/device/wifi-sheet")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert decode_all(page) == [r"WIFI:T:WPA;S:Ardoise\; 5e;P:abcd-efgh\:jkmn;;",
                                "http://ardoise.lan/"]
    assert "Ardoise; 5e" in html.unescape(page) and "@media print" in page
    sign_in_as(client, world.students[0])
    assert client.get("/device/wifi-sheet").status_code == 403


def test_wifi_sheet_without_a_network_says_what_to_do(app: Flask, client: FlaskClient) -> None:
    world = make_world(app, n_students=1)
    sign_in_as(client, world.admin)
    client.get("/lang/en")
    page = client.get("/device/wifi-sheet").get_data(as_text=True)
    assert "The Wi-Fi network is not known yet" in page
    assert decode_all(page) == ["http://ardoise.lan/"]
