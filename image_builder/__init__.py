"""The SD-card image pipeline and what it installs on the Pi.

Not built yet.
"""

__all__: list[str] = []
