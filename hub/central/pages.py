"""The service centre's pages (role `central`): schools and hubs with their last sync,
pending data and health; enrollment tokens; publishing an assignment to classes of
several schools at once; the latest submissions of every school."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from ardoise.errors import Invalid, NotFound
from ardoise.i18n import N_
from hub import access, db
from hub.central import fleet, overview
from hub.models import Role

bp = Blueprint("central", __name__, url_prefix="/central")


@bp.before_request
def central_only() -> None:
    if current_app.extensions["ardoise.settings"].role != "central":
        raise NotFound(N_("This page exists only on the central server."))


@bp.get("/")
@access.roles(Role.ADMIN)
def home() -> Any:
    s = db.session()
    return render_template("central/home.html", schools=overview.schools(s),
                           hubs=overview.hubs(s))


@bp.post("/hubs/<uuid:hub_id>/revoke")
@access.roles(Role.ADMIN)
def revoke_hub(hub_id: uuid.UUID) -> Any:
    s = db.session()
    fleet.revoke_hub(s, hub_id)
    s.commit()
    flash(_("The hub's key is revoked: it must be enrolled again to sync."), "success")
    return redirect(url_for("central.home"))


@bp.route("/tokens", methods=["GET", "POST"])
@access.roles(Role.ADMIN)
def tokens() -> Any:
    s = db.session()
    issued = None
    if request.method == "POST":
        try:
            school_id = uuid.UUID(request.form.get("school_id", ""))
        except ValueError:
            raise Invalid(N_("Choose a school.")) from None
        issued = fleet.create_token(s, school_id, created_by=g.user.id,
                                    note=request.form.get("note", ""))
        s.commit()
    return render_template("central/tokens.html", tokens=overview.tokens(s),
                           schools=overview.schools(s), issued=issued)


@bp.post("/tokens/<uuid:token_id>/revoke")
@access.roles(Role.ADMIN)
def revoke_token(token_id: uuid.UUID) -> Any:
    s = db.session()
    fleet.revoke_token(s, token_id)
    s.commit()
    return redirect(url_for("central.tokens"))


@bp.route("/publish", methods=["GET", "POST"])
@access.roles(Role.ADMIN, Role.TEACHER)
def publish() -> Any:
    s = db.session()
    error = None
    if request.method == "POST":
        try:
            ids = [uuid.UUID(v) for v in request.form.getlist("classroom_id")]
            due = request.form.get("due_at", "").strip()
            due_at = dt.datetime.fromisoformat(due).replace(tzinfo=dt.UTC) if due else None
        except ValueError:
            error = _("A class or the due date is not valid.")
        else:
            try:
                made = overview.publish(s, ids, title=request.form.get("title", ""),
                                        instructions=request.form.get("instructions", ""),
                                        due_at=due_at)
            except Invalid as exc:
                s.rollback()
                error = exc.render(str(_locale()))
            else:
                s.commit()
                flash(_("Published in %(n)s classes: each hub receives it at its next sync.",
                        n=len(made)), "success")
                return redirect(url_for("central.publish"))
    return render_template("central/publish.html", groups=overview.classes_by_school(s),
                           error=error, form=request.form)


@bp.get("/submissions")
@access.roles(Role.ADMIN, Role.TEACHER)
def submissions() -> Any:
    return render_template("central/submissions.html",
                           rows=overview.submissions(db.session()))


def _locale() -> str:
    return str(get_locale() or "fr_CA")


__all__ = ["bp"]
