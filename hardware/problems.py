"""What can be wrong with a hub, and how each problem is shown.

A *problem* makes the red light blink its code (1 to 8 blinks, then a pause) and is listed
on the status page; a *warning* is only listed on the page. The wall sheet
(docs/status-lights.md) documents the same codes, in the same order: when several problems
are active, the light shows the lowest code, which is the most urgent, except that a failed
first start (7 or 8) comes before everything else: it explains the others (a hub whose first
start failed does not serve its pages either).
"""

from __future__ import annotations

from dataclasses import dataclass

from ardoise.i18n import N_


@dataclass(frozen=True)
class Problem:
    code: str
    blinks: int | None  # None: a warning, shown on the page only
    message: str  # English message id (N_)
    hint: str  # what to do, for a teacher first

    @property
    def is_warning(self) -> bool:
        return self.blinks is None


WEB_DOWN = Problem("web_down", 1, N_("The hub is not serving its pages."),
                   N_("Unplug the hub, wait 10 seconds and plug it back in. If the light "
                      "comes back, call the technician."))
POWER = Problem("power", 2, N_("The power supply is too weak (under-voltage)."),
                N_("Use the hub's own power supply, plugged straight into the wall."))
TOO_HOT = Problem("too_hot", 3, N_("The hub is too hot and has slowed down."),
                  N_("Move it away from the sun and from heaters; do not cover it."))
STORAGE_FULL = Problem("storage_full", 4, N_("Storage is almost full."),
                       N_("Call the technician: some content must be removed."))
SYNC_FAILED = Problem("sync_failed", 5, N_("The last sync failed."),
                      N_("Press the button once to try again. If it fails again, check "
                         "the network cable, then call the technician."))
SYNC_STALE = Problem("sync_stale", 6, N_("No successful sync for a long time."),
                     N_("Check the network cable, then press the button once to sync."))
SETUP_SETTINGS = Problem("setup_settings", 7,
                         N_("The hub's first start failed: the settings file has mistakes."),
                         N_("Call the technician: the file ardoise-firstboot.log on the SD "
                            "card lists the mistakes in ardoise.toml to correct."))
SETUP_ERROR = Problem("setup_error", 8, N_("The hub's first start failed."),
                      N_("Call the technician: the file ardoise-firstboot.log on the SD card "
                         "says what went wrong."))
# First boot's own result codes (image_builder.firstboot.run: BLINK_*) -> the problem shown.
# A card too small for the image (3) leaves the data partition unmounted: then neither the
# agent nor its lights start, and only the log on the card tells (docs/technician.md).
SETUP_BY_FIRSTBOOT_CODE = {2: SETUP_SETTINGS}
SETUP_PROBLEMS = (SETUP_SETTINGS, SETUP_ERROR)

POWER_DIPPED = Problem("power_dipped", None,
                       N_("The power dipped since the hub started (under-voltage)."),
                       N_("Use the hub's own power supply, plugged straight into the wall."))
WAS_THROTTLED = Problem("was_throttled", None,
                        N_("The hub slowed down because of heat since it started."),
                        N_("Give it more air."))
WIFI_CROWDED = Problem("wifi_crowded", None,
                       N_("As many tablets are connected as the Wi-Fi carries."),
                       N_("More tablets may fail to connect: use a second hub or take turns."))
NEVER_SYNCED = Problem("never_synced", None, N_("The hub has never synced."),
                       N_("Enrol it with the central server, then press the button once."))
AGENT_STOPPED = Problem("agent_stopped", None,
                        N_("The device agent is not running: lights, button and automatic "
                           "sync are stopped."),
                        N_("Restart the hub; if it persists, check 'systemctl status "
                           "ardoise-agent'."))
HARDWARE_OFF = Problem("hardware_off", None,
                       N_("The agent runs without its lights and button."),
                       N_("See the reason below and the hw_* settings."))

PROBLEMS: tuple[Problem, ...] = (WEB_DOWN, POWER, TOO_HOT, STORAGE_FULL, SYNC_FAILED,
                                 SYNC_STALE, *SETUP_PROBLEMS)
WARNINGS: tuple[Problem, ...] = (POWER_DIPPED, WAS_THROTTLED, WIFI_CROWDED, NEVER_SYNCED,
                                 AGENT_STOPPED, HARDWARE_OFF)
BY_CODE = {p.code: p for p in PROBLEMS + WARNINGS}

__all__ = ["BY_CODE", "PROBLEMS", "SETUP_BY_FIRSTBOOT_CODE", "SETUP_PROBLEMS", "WARNINGS",
           "Problem"]
