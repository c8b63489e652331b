"""Answers to the connectivity checks of tablets, so joining the classroom Wi-Fi opens the
hub's home page (hardware/captive.py says why each answer works; docs/captive-portal.md
lists them). Public by nature: a tablet asks before anyone has signed in."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, redirect

from hardware.captive import PROBES, WINDOWS_REDIRECT, Probe
from hub import access

bp = Blueprint("captive", __name__)


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _portal_on() -> bool:
    return bool(current_app.extensions["ardoise.settings"].captive_portal)


def _hub_url() -> str:
    return str(current_app.extensions["ardoise.settings"].hub_url)


def _answer(probe: Probe) -> Any:
    if _portal_on():
        return _no_store(redirect(_hub_url(), 302))
    resp = Response(probe.body, status=probe.status,
                    content_type=probe.content_type if probe.body else None)
    return _no_store(resp)


def _register(probe: Probe) -> None:
    def view() -> Any:
        return _answer(probe)

    endpoint = "probe_" + probe.path.strip("/").replace("/", "_").replace(".", "_")
    view.__name__ = endpoint
    bp.add_url_rule(probe.path, endpoint, access.public(view), methods=["GET"])


for _probe in PROBES:
    _register(_probe)


@bp.get(WINDOWS_REDIRECT)
@access.public
def windows_redirect() -> Any:
    """Windows opens this in the browser once it has seen a portal."""
    return _no_store(redirect(_hub_url(), 302))
