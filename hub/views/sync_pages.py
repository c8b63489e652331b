"""The hub's sync page: last sync, progress and errors in plain words, and "Sync now".

The button posts to the device's "Sync now" request (the agent picks it up); the words
come from the agent's last sync result and the engine's enrollment record. Handed-in files
that neither the hub nor the central holds are listed as a warning (`hub.sync_files`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, render_template

from ardoise import device
from hub import access, db
from hub.models import Role
from hub.sync_files import missing_files
from sync import hubside

bp = Blueprint("sync_pages", __name__)


@bp.get("/sync")
@access.roles(Role.TEACHER, Role.ADMIN)
def status() -> Any:
    s = db.session()
    info = hubside.status(db.database().engine)
    activity = device.read_state(s, device.ACTIVITY_KEY)
    running = activity is not None and activity[0].get("task") == "sync"
    return render_template(
        "sync/status.html", info=info, last=device.last_sync(s), running=running,
        progress=activity[0].get("progress") if running and activity else None,
        pending=device.pending_requests(s, [device.SYNC_NOW]),
        role=current_app.extensions["ardoise.settings"].role,
        missing=missing_files(s, g.user))


__all__ = ["bp"]
