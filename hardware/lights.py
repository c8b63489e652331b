"""The status lights, the buzzer and the button, on gpiozero devices.

Blink patterns are timed by the agent's clock, not by gpiozero's blink threads: a pattern
is a repeating list of (on, seconds) steps, and `Lights.update(now)` switches each output
to what its pattern says at `now` and returns when the next change is due. The agent
sleeps until then, so a steady light costs no wake-ups at all, and tests step a fake
clock instead of sleeping.

The pin factory comes from gpiozero (GPIOZERO_PIN_FACTORY; lgpio on a Pi; MockFactory in
tests). A machine without GPIO gives no factory: the agent runs without lights.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ardoise.errors import ArdoiseError
from ardoise.i18n import N_
from ardoise.settings import Settings

log = logging.getLogger(__name__)

INF = math.inf


class HardwareError(ArdoiseError, RuntimeError):
    """A pin in the settings cannot be used (invalid, not a GPIO, or already in use)."""

    status = 500
    code = "hardware"
    # Parameters that are themselves message ids (device names), translated with the text.
    translated_params = ("device", "other")

    def render(self, locale: str | None = None) -> str:
        from ardoise.i18n import translate

        params = {k: translate(v, locale) if k in self.translated_params else v
                  for k, v in self.params.items()}
        text = translate(self.message, locale, **params)
        if self.hint:
            text = f"{text} {translate(self.hint, locale, **params)}"
        return text


@dataclass(frozen=True)
class Pattern:
    """A repeating sequence of (on, seconds) steps. `kind` names it for the status page;
    changing to a pattern of the same kind keeps the rhythm (progress updates)."""

    kind: str
    steps: tuple[tuple[bool, float], ...]

    def at(self, elapsed: float) -> tuple[bool, float]:
        """State at `elapsed` seconds into the pattern, and seconds until it changes."""
        period = sum(d for _, d in self.steps)
        if period == INF or len(self.steps) == 1:
            return self.steps[0][0], INF
        t = elapsed % period
        for on, duration in self.steps:
            if t < duration:
                return on, duration - t
            t -= duration
        return self.steps[0][0], self.steps[0][1]  # float rounding at the period's end


OFF = Pattern("off", ((False, INF),))
ON = Pattern("on", ((True, INF),))
SLOW_BLINK = Pattern("slow", ((True, 1.0), (False, 1.0)))
FAST_BLINK = Pattern("fast", ((True, 0.15), (False, 0.15)))
BLINK_ON, BLINK_OFF, CODE_PAUSE = 0.3, 0.4, 2.0
PROGRESS_PERIOD = 2.0


def code(n: int) -> Pattern:
    """n short blinks, then a pause: the red light's problem codes."""
    steps: list[tuple[bool, float]] = []
    for _ in range(n):
        steps += [(True, BLINK_ON), (False, BLINK_OFF)]
    steps[-1] = (False, CODE_PAUSE)
    return Pattern(f"code-{n}", tuple(steps))


def progress(fraction: float | None) -> Pattern:
    """Blinking, lit longer in each 2 s beat as the work advances (10% to 90% of the beat);
    without a known progress, an even 1 s blink."""
    if fraction is None:
        return Pattern("progress", ((True, 0.5), (False, 0.5)))
    on = PROGRESS_PERIOD * (0.1 + 0.8 * min(max(fraction, 0.0), 1.0))
    return Pattern("progress", ((True, round(on, 3)), (False, round(PROGRESS_PERIOD - on, 3))))


def beeps(n: int, length: float = 0.1) -> Pattern:
    steps: list[tuple[bool, float]] = []
    for _ in range(n):
        steps += [(True, length), (False, length)]
    steps[-1] = (False, INF)
    return Pattern(f"beep-{n}", tuple(steps))


class Output(Protocol):
    def on(self) -> None: ...
    def off(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class _Slot:
    output: Output
    pattern: Pattern = OFF
    since: float = 0.0
    lit: bool | None = None


class Lights:
    """Outputs driven by patterns. Thread-safe enough: only the agent loop calls it."""

    def __init__(self, outputs: dict[str, Output]) -> None:
        self._slots = {name: _Slot(out) for name, out in outputs.items()}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._slots)

    def show(self, name: str, pattern: Pattern, now: float) -> None:
        slot = self._slots.get(name)
        if slot is None:
            return
        if pattern == slot.pattern:
            return
        if pattern.kind != slot.pattern.kind or pattern.kind.startswith("beep"):
            slot.since = now
        slot.pattern = pattern

    def showing(self) -> dict[str, str]:
        return {name: slot.pattern.kind for name, slot in self._slots.items()}

    def update(self, now: float) -> float:
        """Set every output for `now`; the time of the next change (inf: none)."""
        soonest = INF
        for slot in self._slots.values():
            lit, remaining = slot.pattern.at(max(0.0, now - slot.since))
            if lit != slot.lit:
                (slot.output.on if lit else slot.output.off)()
                slot.lit = lit
            soonest = min(soonest, now + remaining)
        return soonest

    def close(self) -> None:
        for slot in self._slots.values():
            try:
                slot.output.off()
                slot.output.close()
            except Exception:  # closing must never stop the agent from exiting
                log.debug("closing an output failed", exc_info=True)


# -- opening the devices -----------------------------------------------------------------

@dataclass(frozen=True)
class PinSpec:
    role: str  # green, yellow, red, buzzer, button
    setting: str
    label: str  # message id naming the device for people

    def value(self, settings: Settings) -> str:
        return str(settings[self.setting]).strip()


PINS: tuple[PinSpec, ...] = (
    PinSpec("green", "hw_led_green_pin", N_("green light")),
    PinSpec("yellow", "hw_led_yellow_pin", N_("yellow light")),
    PinSpec("red", "hw_led_red_pin", N_("red light")),
    PinSpec("buzzer", "hw_buzzer_pin", N_("buzzer")),
    PinSpec("button", "hw_button_pin", N_("button")),
)


@dataclass
class Devices:
    """The opened gpiozero devices (any may be missing when its pin setting is empty)."""

    outputs: dict[str, Any] = field(default_factory=dict)
    button: Any = None

    def close(self) -> None:
        for dev in [*self.outputs.values(), self.button]:
            if dev is not None:
                try:
                    dev.close()
                except Exception:
                    log.debug("closing a device failed", exc_info=True)
        self.outputs.clear()
        self.button = None


def default_pin_factory() -> tuple[Any | None, str]:
    """gpiozero's own choice (GPIOZERO_PIN_FACTORY, else lgpio, rpigpio, ...), or None and
    why when this machine has no usable GPIO."""
    from gpiozero import Device
    from gpiozero.exc import GPIOZeroError

    if Device.pin_factory is not None:
        return Device.pin_factory, ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback warnings are summed up below
        try:
            Device.ensure_pin_factory()
        except (GPIOZeroError, ImportError, OSError, RuntimeError) as exc:
            return None, str(exc) or type(exc).__name__
    return Device.pin_factory, ""


def open_devices(settings: Settings, factory: Any) -> Devices:
    """Open the lights, buzzer and button named in the settings on `factory`.

    Raises HardwareError naming the pin, the device and the setting when a pin is invalid,
    not a GPIO, or taken (by another of ours or by another program); whatever was opened
    is closed again first.
    """
    from gpiozero import LED, Buzzer
    from gpiozero.exc import GPIOPinInUse

    devices = Devices()
    opened: dict[str, PinSpec] = {}  # pin name -> who holds it
    kinds: dict[str, Callable[..., Any]] = {"buzzer": Buzzer, "button": _button}
    for spec in PINS:
        pin = spec.value(settings)
        if not pin:
            continue
        make = kinds.get(spec.role, LED)
        try:
            dev = make(pin, pin_factory=factory)
        except GPIOPinInUse as exc:
            devices.close()
            holder = opened.get(_pin_name(factory, pin))
            if holder is not None:
                raise HardwareError(
                    N_("Pin %(pin)s is set for both the %(device)s (%(setting)s) and the "
                       "%(other)s (%(other_setting)s). Give each its own pin."),
                    pin=pin, device=spec.label, setting=spec.setting,
                    other=holder.label, other_setting=holder.setting) from exc
            raise _pin_error(spec, pin, str(exc)) from exc
        except Exception as exc:  # gpiozero and lgpio errors: invalid, not a GPIO, busy
            devices.close()
            raise _pin_error(spec, pin, str(exc) or type(exc).__name__) from exc
        opened[str(dev.pin)] = spec
        if spec.role == "button":
            devices.button = dev
        else:
            devices.outputs[spec.role] = dev
    return devices


def _button(pin: str, pin_factory: Any) -> Any:
    from gpiozero import Button

    # No gpiozero bounce time or hold thread: the agent times presses on its own clock.
    return Button(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory)


def _pin_name(factory: Any, pin: str) -> str:
    try:
        return str(factory.pin(pin))
    except Exception:
        return pin


def _pin_error(spec: PinSpec, pin: str, reason: str) -> HardwareError:
    return HardwareError(
        N_("Pin %(pin)s for the %(device)s (setting %(setting)s) cannot be used: %(reason)s. "
           "Set another pin, or leave the setting empty if there is no %(device)s."),
        pin=pin, device=spec.label, setting=spec.setting, reason=reason)


__all__ = ["FAST_BLINK", "OFF", "ON", "PINS", "SLOW_BLINK", "Devices", "HardwareError",
           "Lights", "Pattern", "beeps", "code", "default_pin_factory", "open_devices",
           "progress"]
