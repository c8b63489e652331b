"""First boot on the Pi: read `ardoise.toml` from the boot partition, validate it, apply
what changed, make per-device secrets, grow the data partition, report on the LEDs and in
a bilingual log on the card. Standard library only (plus `cryptography` for the hub key
pair), so it runs before anything else and in the tiny test image."""

from image_builder.firstboot.config import DeviceConfig, read_device_config, validate
from image_builder.firstboot.run import (
    BLINK_CARD,
    BLINK_OK,
    BLINK_SETTINGS,
    BLINK_STEP,
    MARKER_FAILED,
    MARKER_OK,
    FirstBoot,
    Report,
    main,
)
from image_builder.firstboot.system import Paths

__all__ = ["BLINK_CARD", "BLINK_OK", "BLINK_SETTINGS", "BLINK_STEP", "MARKER_FAILED",
           "MARKER_OK", "DeviceConfig", "FirstBoot", "Paths", "Report", "main",
           "read_device_config", "validate"]
