"""Student pages: the To do / Done list, one assignment with its hand-in form, own files.

The home page is what every tablet opens first: one query for the list, no images, so it
stays fast and tiny on a crowded classroom Wi-Fi.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ardoise.errors import ArdoiseError
from hub import access, db
from hub.classwork import resources as library
from hub.classwork.filetypes import ACCEPT_ATTRIBUTE
from hub.classwork.submissions import file_for, hand_in, my_work
from hub.classwork.web import (
    blob_store,
    locale,
    max_upload_bytes,
    send_work_file,
    settings_value,
    uploads_from_request,
)
from hub.classwork.worklist import worklist
from hub.models import Role

bp = Blueprint("student", __name__, url_prefix="/student")


@bp.get("/")
@access.roles(Role.STUDENT)
def home() -> Any:
    return render_template("student/home.html", work=worklist(db.session(), g.user.id))


def _assignment_page(assignment_id: uuid.UUID, *, text: str = "", error: str | None = None,
                     status: int = 200) -> Any:
    s = db.session()
    view = my_work(s, g.user, assignment_id)
    return render_template(
        "student/assignment.html", view=view,
        resources=library.describe(s, view.resource_uids, locale()), text=text, error=error,
        accept=ACCEPT_ATTRIBUTE, limit_mb=settings_value("upload_max_mb")), status


@bp.get("/assignments/<uuid:assignment_id>")
@access.roles(Role.STUDENT)
def assignment(assignment_id: uuid.UUID) -> Any:
    return _assignment_page(assignment_id)


@bp.post("/assignments/<uuid:assignment_id>/hand-in")
@access.roles(Role.STUDENT)
def hand_in_work(assignment_id: uuid.UUID) -> Any:
    text = request.form.get("text", "")
    try:
        hand_in(db.session(), blob_store(), g.user, assignment_id, text=text,
                uploads=uploads_from_request(), max_bytes=max_upload_bytes())
    except ArdoiseError as exc:
        if exc.status == 404:
            raise
        # Show the same page again with the message and the text kept.
        return _assignment_page(assignment_id, text=text, error=exc.render(locale()),
                                status=exc.status)
    flash(_("Handed in. Your teacher will see it."), "success")
    return redirect(url_for("student.assignment", assignment_id=assignment_id))


@bp.get("/files/<uuid:file_id>")
@access.roles(Role.STUDENT)
def work_file(file_id: uuid.UUID) -> Any:
    record, path = file_for(db.session(), blob_store(), g.user, file_id)
    return send_work_file(record, path)
