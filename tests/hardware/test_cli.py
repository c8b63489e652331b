"""`ardoise agent`, `ardoise hw test-leds` and `ardoise discover` from the command line."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from gpiozero import Device
from sqlalchemy.orm import Session, sessionmaker

from ardoise import device
from hardware.discovery import Announcer
from hub.cli import main
from tests.hardware.test_discovery import _announcement


def _run(data_dir: Path, *args: str, **env: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), env={
        "ARDOISE_DATA_DIR": str(data_dir), "ARDOISE_LANGUAGE": "en", **env})


def test_agent_once_runs_without_gpio(data_dir: Path, sessions: sessionmaker[Session],
                                      monkeypatch: pytest.MonkeyPatch,
                                      restore_pin_factory: None) -> None:
    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    with sessions() as s:
        device.request_sync_now(s, "cli")
        s.commit()
    result = _run(data_dir, "agent", "--once")
    assert result.exit_code == 0, result.output
    with sessions() as s:
        beat = device.read_state(s, device.AGENT_KEY)
        [req] = device.pending_requests(s) or [None]
    assert beat is not None
    assert beat[0]["hardware"] == "off" and "no GPIO on this machine" in beat[0]["hardware_reason"]
    assert beat[0]["stopped"] is True
    assert req is None  # taken: nothing on this hub handles it yet, so it was closed


def test_test_leds_cycles_every_light(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                      restore_pin_factory: None) -> None:
    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    result = _run(data_dir, "hw", "test-leds", "--seconds", "0")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["green: on", "yellow: on", "red: on", "red: code-3",
                                          "button: released"]
    red = Device.pin_factory.pin("GPIO22")
    assert [s.state for s in red.states].count(True) == 4  # on once, then three blinks


def test_test_leds_with_a_bad_pin_says_which(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                            restore_pin_factory: None) -> None:
    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    result = _run(data_dir, "hw", "test-leds", "--seconds", "0",
                  ARDOISE_HW_LED_YELLOW_PIN="GPIO99")
    assert result.exit_code == 1
    assert "Pin GPIO99 for the yellow light (setting hw_led_yellow_pin)" in result.output
    assert "Traceback" not in result.output


def test_test_leds_without_gpio(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                restore_pin_factory: None) -> None:
    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    result = _run(data_dir, "hw", "test-leds")
    assert result.exit_code == 1 and "No GPIO on this machine" in result.output


@pytest.mark.slow
def test_discover_lists_a_hub(data_dir: Path) -> None:
    hub = str(uuid.uuid4())
    announcer = Announcer(_announcement(hub), interfaces=["127.0.0.1"], addresses=["127.0.0.1"])
    announcer.start()
    try:
        result = _run(data_dir, "discover", "--seconds", "1.5", "--json",
                      ARDOISE_DISCOVERY_INTERFACES="127.0.0.1")
    finally:
        announcer.close()
    assert result.exit_code == 0, result.output
    seen = {s["hub_id"]: s for s in json.loads(result.output)}
    assert seen[hub]["school_name"] == "École du Littoral"
    assert seen[hub]["url"] == "http://127.0.0.1:8080/"


def test_agent_refuses_a_database_that_is_not_sqlite(data_dir: Path) -> None:
    result = _run(data_dir, "agent", "--once",
                  ARDOISE_DATABASE_URL="postgresql+psycopg://ardoise@db.example/ardoise")
    assert result.exit_code == 1
    assert "The device agent needs the hub's SQLite database" in result.output
    assert "Traceback" not in result.output
