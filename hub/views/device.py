"""The device's pages: the technician's status page, "Sync now", and the classroom sheet
(Wi-Fi and hub address as QR codes). The status comes from `hardware`, the same sample
`ardoise status` prints; this module only renders it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from ardoise import device
from ardoise.settings import Settings
from hardware.report import rows
from hardware.wifi_sheet import qr_svg, read_wifi_info, wifi_payload
from hub import access, db
from hub.device_status import fresh_status
from hub.models import Role

bp = Blueprint("device", __name__)


def _settings() -> Settings:
    return current_app.extensions["ardoise.settings"]  # type: ignore[no-any-return]


def _locale() -> str:
    return str(get_locale() or "fr_CA")


@bp.get("/admin/status")
@access.roles(Role.ADMIN)
def status_page() -> Any:
    status = fresh_status()
    return render_template("device/status.html", status=status,
                           rows=rows(status, _locale(), _settings().timezone),
                           pending=device.pending_requests(db.session(), [device.SYNC_NOW]))


@bp.post("/device/sync-now")
@access.roles(Role.TEACHER, Role.ADMIN)
def sync_now() -> Any:
    s = db.session()
    device.request_sync_now(s, "web")
    s.commit()
    flash(_("Sync requested: the yellow light turns on while the hub syncs."), "success")
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("device.status_page" if g.user.role == Role.ADMIN else "home.index")
    return redirect(target)


@bp.get("/device/wifi-sheet")
@access.roles(Role.TEACHER, Role.ADMIN)
def wifi_sheet() -> Any:
    settings = _settings()
    wifi = read_wifi_info(Path(settings.data_dir))
    wifi_qr = None
    if wifi is not None:
        wifi_qr = qr_svg(wifi_payload(wifi.ssid, wifi.password),
                         title=_("Wi-Fi network %(name)s", name=wifi.ssid))
    hub_qr = qr_svg(settings.hub_url, title=_("Hub address %(url)s", url=settings.hub_url))
    return render_template("device/wifi_sheet.html", wifi=wifi, wifi_qr=wifi_qr,
                           hub_qr=hub_qr, hub_url=settings.hub_url)
