"""Light patterns over time on gpiozero's MockFactory, and pin settings that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero import LED
from gpiozero.pins.mock import MockFactory

from ardoise.settings import load_settings
from hardware import lights as L
from hardware.lights import HardwareError, Lights, open_devices
from hardware.runtime import open_hardware


def _settings(**overrides: object):  # type: ignore[no-untyped-def]
    return load_settings(env={}, read_default_file=False, overrides=overrides)


def _states(lights: Lights, pin, times: list[float]) -> list[bool]:  # type: ignore[no-untyped-def]
    out = []
    for t in times:
        lights.update(t)
        out.append(bool(pin.state))
    return out


def test_blink_code_three_over_time(mock_factory: MockFactory) -> None:
    led = LED("GPIO22", pin_factory=mock_factory)
    pin = mock_factory.pin("GPIO22")
    lights = Lights({"red": led})
    lights.show("red", L.code(3), 100.0)
    # on 0.3, off 0.4, on 0.3, off 0.4, on 0.3, pause 2.0 -> period 3.7 s
    times = [100.0, 100.2, 100.4, 100.8, 101.2, 101.5, 101.7, 102.2, 103.0, 103.7, 103.9]
    assert _states(lights, pin, times) == [True, True, False, True, False, True,
                                           False, False, False, True, True]
    # The mock pin recorded exactly the edges of that sequence.
    pin.assert_states([False, True, False, True, False, True, False, True])
    led.close()


def test_update_says_when_the_next_change_is_due(mock_factory: MockFactory) -> None:
    led = LED("GPIO17", pin_factory=mock_factory)
    lights = Lights({"green": led})
    lights.show("green", L.ON, 0.0)
    assert lights.update(0.0) == float("inf")  # steady: the agent may sleep
    lights.show("green", L.SLOW_BLINK, 5.0)
    assert lights.update(5.2) == pytest.approx(6.0)
    assert lights.update(6.0) == pytest.approx(7.0)
    led.close()


def test_progress_lights_longer_as_work_advances() -> None:
    at_10 = L.progress(0.1).steps[0][1]
    at_90 = L.progress(0.9).steps[0][1]
    assert 0.2 <= at_10 < at_90 <= 1.8
    assert sum(d for _, d in L.progress(0.5).steps) == pytest.approx(L.PROGRESS_PERIOD)
    assert L.progress(None).steps == ((True, 0.5), (False, 0.5))


def test_same_kind_keeps_the_rhythm_a_new_kind_restarts(mock_factory: MockFactory) -> None:
    led = LED("GPIO27", pin_factory=mock_factory)
    pin = mock_factory.pin("GPIO27")
    lights = Lights({"yellow": led})
    lights.show("yellow", L.progress(0.2), 0.0)
    lights.show("yellow", L.progress(0.8), 1.9)  # progress moved on: same beat
    lights.update(1.9)
    assert pin.state == 0  # 1.9 s into the beat is in the "off" part even at 80%
    lights.show("yellow", L.code(1), 1.9)
    lights.update(1.9)
    assert pin.state == 1  # a code starts with a blink
    led.close()


def test_opens_every_device_from_settings(mock_factory: MockFactory) -> None:
    devices = open_devices(_settings(hw_buzzer_pin="GPIO24"), mock_factory)
    try:
        assert set(devices.outputs) == {"green", "yellow", "red", "buzzer"}
        assert str(devices.button.pin) == "GPIO23"
        mock_factory.pin("GPIO23").drive_low()
        assert devices.button.is_pressed
    finally:
        devices.close()


def test_empty_pin_settings_mean_no_device(mock_factory: MockFactory) -> None:
    devices = open_devices(_settings(hw_led_yellow_pin="", hw_button_pin=""), mock_factory)
    try:
        assert set(devices.outputs) == {"green", "red"}
        assert devices.button is None
    finally:
        devices.close()


def test_two_devices_on_one_pin_names_both(mock_factory: MockFactory) -> None:
    with pytest.raises(HardwareError) as err:
        open_devices(_settings(hw_button_pin="BOARD11"), mock_factory)  # BOARD11 is GPIO17
    text = err.value.render("en")
    assert "BOARD11" in text and "green light" in text and "button" in text
    assert "hw_led_green_pin" in text and "hw_button_pin" in text
    french = err.value.render("fr_CA")
    assert "voyant vert" in french and "bouton" in french
    # what was opened before the error was closed again: the pins are free
    LED("GPIO17", pin_factory=mock_factory).close()


@pytest.mark.parametrize(("pin", "why"), [("GPIO99", "not a valid pin"),
                                          ("banana", "not a valid pin"),
                                          ("BOARD1", "not a GPIO pin")])
def test_invalid_pin_names_the_pin_and_the_device(mock_factory: MockFactory, pin: str,
                                                  why: str) -> None:
    with pytest.raises(HardwareError) as err:
        open_devices(_settings(hw_led_red_pin=pin), mock_factory)
    text = err.value.render("en")
    assert pin in text and "red light" in text and "hw_led_red_pin" in text and why in text


def test_pin_taken_by_another_program(mock_factory: MockFactory) -> None:
    other = LED("GPIO22", pin_factory=mock_factory)  # someone else holds the red light's pin
    try:
        devices, state = open_hardware(_settings(), mock_factory)
        assert devices is None and state.mode == "error"
        assert "GPIO22" in state.reason and "hw_led_red_pin" in state.reason
    finally:
        other.close()


def test_no_gpio_on_this_machine_means_hardware_off(
        monkeypatch: pytest.MonkeyPatch, restore_pin_factory: None) -> None:
    from gpiozero import Device

    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    devices, state = open_hardware(_settings())
    assert devices is None
    assert state.mode == "off" and "no GPIO on this machine" in state.reason


def test_hardware_turned_off_by_setting(tmp_path: Path) -> None:
    devices, state = open_hardware(_settings(hw_enabled=False))
    assert devices is None and state.mode == "off" and "hw_enabled" in state.reason
