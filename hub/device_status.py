"""The device status as the web process samples it: fresh for the technician's page, at
most a few seconds old for the public endpoint (anyone on the Wi-Fi may ask it in a loop;
the collectors must not run each time)."""

from __future__ import annotations

import threading
import time

from flask import Flask, current_app

from ardoise.settings import Settings
from hardware import status as hw_status
from hardware.status import DeviceStatus
from hub import db

PUBLIC_CACHE_SECONDS = 5.0
CACHE_KEY = "hardware.status_cache"


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


def fresh_status(app: Flask | None = None) -> DeviceStatus:
    app = app or _app()
    settings: Settings = app.extensions["ardoise.settings"]
    status = hw_status.sample_status(settings, db.database(app).sessions, check_web=False)
    if status.web_ok is None:
        status.web_ok = True  # this very process is serving the page
    return status


def cached_status() -> DeviceStatus:
    app = _app()
    cache = app.extensions.setdefault(CACHE_KEY, {"lock": threading.Lock(), "at": 0.0,
                                                  "status": None})
    with cache["lock"]:
        if cache["status"] is None or time.monotonic() - cache["at"] > PUBLIC_CACHE_SECONDS:
            cache["status"] = fresh_status(app)
            cache["at"] = time.monotonic()
        return cache["status"]  # type: ignore[no-any-return]
