"""GPIO LEDs and button, device status collectors and the device agent loop.

Not built yet.
"""

__all__: list[str] = []
