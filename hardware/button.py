"""What a press of the button means, timed on the agent's clock.

- short press (under `hold_shutdown` seconds): sync now;
- hold `hold_shutdown` seconds (all lights blink fast), then release: safe shutdown;
- keep holding to `hold_restore` seconds (lights go dark), then release: nothing (cancel);
- held while the hub starts, for `hold_restore` seconds: restore the network settings;
  released earlier: ignored (a button stuck or leant on at power-up does nothing).

Contact bounce is absorbed here: a press shorter than `debounce` seconds is no press, and
a release without a press is ignored, so the chatter of a cheap switch gives one action.
"""

from __future__ import annotations

import enum


class Action(enum.StrEnum):
    SYNC_NOW = "sync_now"
    SHUTDOWN = "shutdown"
    RESTORE_NETWORK = "restore_network"


class Phase(enum.StrEnum):
    IDLE = "idle"
    PRESSED = "pressed"  # held, not yet long enough for a shutdown
    ARMED = "armed"  # release now to shut down
    CANCELLED = "cancelled"  # held so long that releasing does nothing
    BOOT_HOLD = "boot_hold"  # held since start: counting to a network restore
    BOOT_DONE = "boot_done"  # restore triggered: waiting for the release


class ButtonLogic:
    def __init__(self, hold_shutdown: float = 3.0, hold_restore: float = 10.0,
                 debounce: float = 0.05) -> None:
        if hold_restore <= hold_shutdown:
            raise ValueError("hold_restore must be longer than hold_shutdown")
        self.hold_shutdown = hold_shutdown
        self.hold_restore = hold_restore
        self.debounce = debounce
        self._phase = Phase.IDLE
        self._since = 0.0

    def start(self, pressed: bool, now: float) -> None:
        """Called once when the agent starts, with the button's state then."""
        self._phase, self._since = (Phase.BOOT_HOLD if pressed else Phase.IDLE), now

    def pressed(self, now: float) -> None:
        if self._phase == Phase.IDLE:
            self._phase, self._since = Phase.PRESSED, now

    def released(self, now: float) -> Action | None:
        phase, held = self.phase(now), now - self._since
        self._phase, self._since = Phase.IDLE, now
        if phase == Phase.PRESSED:
            return Action.SYNC_NOW if held >= self.debounce else None
        if phase == Phase.ARMED:
            return Action.SHUTDOWN
        return None  # idle, cancelled, boot hold released early, boot restore already done

    def tick(self, now: float) -> Action | None:
        """The action due while still held (the network restore at start)."""
        if self._phase == Phase.BOOT_HOLD and now - self._since >= self.hold_restore:
            self._phase = Phase.BOOT_DONE
            return Action.RESTORE_NETWORK
        return None

    def phase(self, now: float) -> Phase:
        if self._phase == Phase.PRESSED:
            held = now - self._since
            if held >= self.hold_restore:
                return Phase.CANCELLED
            if held >= self.hold_shutdown:
                return Phase.ARMED
        return self._phase

    def next_change(self, now: float) -> float | None:
        """When the phase changes next without an edge (for the agent's sleep)."""
        if self._phase == Phase.BOOT_HOLD:
            return self._since + self.hold_restore
        if self._phase == Phase.PRESSED:
            for limit in (self.hold_shutdown, self.hold_restore):
                if self._since + limit > now:
                    return self._since + limit
        return None


__all__ = ["Action", "ButtonLogic", "Phase"]
