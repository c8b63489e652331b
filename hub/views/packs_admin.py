"""The technician's packs page: installed packs and their versions (roll back), packs found
on a USB stick (install), the progress of the current transfer, and "look for updates
now". Installs run in the agent (a request row and a queue), never in a web request;
the rules are in `content_packs`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from ardoise import device
from ardoise.errors import ArdoiseError
from ardoise.settings import Settings
from content_packs import (
    licence_name,
    list_packs,
    queue_install,
    queued_installs,
    read_transfer,
    rollback,
    trust_from_settings,
)
from content_packs.paths import staging_root
from content_packs.sources import find_usb_offer, usb_offers
from content_packs.status import REQUEST_KIND, TASK_NAME
from hub import access, db
from hub.i18n import current_lang
from hub.models import Role

bp = Blueprint("packs_admin", __name__, url_prefix="/admin/packs")


def _settings() -> Settings:
    return current_app.extensions["ardoise.settings"]  # type: ignore[no-any-return]


def _locale() -> str:
    return str(get_locale() or "fr_CA")


def _data_dir() -> Path:
    return Path(_settings().data_dir)


@bp.get("/")
@access.roles(Role.ADMIN)
def index() -> Any:
    s = db.session()
    settings = _settings()
    packs: dict[str, list[Any]] = {}
    for row in list_packs(s):
        packs.setdefault(row.pack_id, []).append(row)
    installed = {(p.pack_id, p.version) for rows in packs.values() for p in rows}
    try:
        sticks = usb_offers(Path(settings.pack_usb_mount_root), trust_from_settings(settings),
                            staging_root(_data_dir()))
        trust_error = None
    except ArdoiseError as exc:  # a wrong pack_trusted_keys setting
        sticks, trust_error = [], exc.render(_locale())
    return render_template(
        "packs_admin/index.html", packs=packs, installed=installed, sticks=sticks,
        transfer=read_transfer(s), last=device.last_task_result(s, TASK_NAME),
        queued=queued_installs(s), pending=device.pending_requests(s, [REQUEST_KIND]),
        source=settings.pack_source, mount_root=settings.pack_usb_mount_root,
        trust_error=trust_error, lang=current_lang(), licence_name=licence_name,
        locale=_locale())


@bp.post("/<pack_id>/rollback")
@access.roles(Role.ADMIN)
def rollback_pack(pack_id: str) -> Any:
    s = db.session()
    try:
        pack = rollback(s, _data_dir(), pack_id, request.form.get("version") or None)
    except ArdoiseError as exc:
        s.rollback()
        flash(exc.render(_locale()), "error")
    else:
        flash(_("Pack %(pack)s is back to version %(version)s.", pack=pack.pack_id,
                version=pack.version), "success")
    return redirect(url_for("packs_admin.index"))


@bp.post("/usb/install")
@access.roles(Role.ADMIN)
def install_from_usb() -> Any:
    s = db.session()
    settings = _settings()
    try:
        offer = find_usb_offer(Path(settings.pack_usb_mount_root),
                               trust_from_settings(settings), staging_root(_data_dir()),
                               request.form.get("location", ""))
        queue_install(s, offer.location, offer.pack_id, offer.version)
        s.commit()
    except ArdoiseError as exc:
        s.rollback()
        flash(exc.render(_locale()), "error")
    else:
        flash(_("Pack %(pack)s %(version)s will be installed within a minute; this page "
                "shows the progress.", pack=offer.pack_id, version=offer.version), "success")
    return redirect(url_for("packs_admin.index"))


@bp.post("/check")
@access.roles(Role.ADMIN)
def check_now() -> Any:
    s = db.session()
    device.request(s, REQUEST_KIND, "web")
    s.commit()
    flash(_("The hub looks for new packs within seconds."), "success")
    return redirect(url_for("packs_admin.index"))
