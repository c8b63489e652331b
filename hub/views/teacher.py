"""Teacher pages: classes, assignments (write, publish, close), who handed in, review and
feedback, groups, the class progress table, and the students' files.

Admins open the same pages for every class of their school. Scoping is done by
`hub.classwork`; these views only read forms and pick templates.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ardoise.errors import ArdoiseError, Invalid
from ardoise.i18n import N_
from hub import access, db
from hub.classwork import assignments as work
from hub.classwork import groups as grouping
from hub.classwork import resources as library
from hub.classwork.dates import local_input_value, parse_local
from hub.classwork.feedback import save_feedback
from hub.classwork.progress_report import class_progress
from hub.classwork.submissions import class_work, file_for, work_for_staff
from hub.classwork.visibility import (
    assignment_for_staff,
    class_for_staff,
    class_students,
    teacher_classes,
)
from hub.classwork.web import blob_store, locale, parse_uuid, send_work_file, tz_name
from hub.models import Assignment, AssignmentStatus, Classroom, Role

bp = Blueprint("teacher", __name__, url_prefix="/teacher")
STAFF = (Role.TEACHER, Role.ADMIN)


@bp.get("/")
@access.roles(*STAFF)
def home() -> Any:
    return render_template("teacher/home.html", classes=teacher_classes(db.session(), g.user))


@bp.get("/classes/<uuid:classroom_id>/")
@access.roles(*STAFF)
def classroom(classroom_id: uuid.UUID) -> Any:
    s = db.session()
    return render_template("teacher/class.html", classroom=class_for_staff(s, g.user, classroom_id),
                           items=work.list_for_class(s, g.user, classroom_id))


# -- the assignment form --------------------------------------------------------------

@dataclass
class AssignmentForm:
    """What the form holds, as typed (kept when the page is shown again after an error or a
    library search)."""

    title: str = ""
    instructions: str = ""
    due_local: str = ""
    mode: str = "class"  # "class" (everyone) or "some" (chosen groups and students)
    groups: set[str] = field(default_factory=set)
    students: set[str] = field(default_factory=set)
    resources: list[str] = field(default_factory=list)
    q: str = ""

    @classmethod
    def of(cls, assignment: Assignment) -> AssignmentForm:
        s = db.session()
        targets = work.targets_of(s, assignment.id)
        return cls(title=assignment.title, instructions=assignment.instructions,
                   due_local=local_input_value(assignment.due_at, tz_name()),
                   mode="class" if targets.whole_class else "some",
                   groups={str(x) for x in targets.group_ids},
                   students={str(x) for x in targets.student_ids},
                   resources=work.resource_uids(s, assignment.id))

    @classmethod
    def from_request(cls) -> AssignmentForm:
        f = request.form
        return cls(title=f.get("title", ""), instructions=f.get("instructions", ""),
                   due_local=f.get("due_at", ""), mode=f.get("mode", "class"),
                   groups=set(f.getlist("groups")), students=set(f.getlist("students")),
                   resources=list(dict.fromkeys(f.getlist("resources"))), q=f.get("q", ""))

    def fields(self) -> dict[str, Any]:
        """The library's keyword arguments; Invalid names the field that is wrong."""
        groups: list[uuid.UUID] = []
        students: list[uuid.UUID] = []
        if self.mode == "some":
            groups = [parse_uuid(x, "groups") for x in sorted(self.groups)]
            students = [parse_uuid(x, "students") for x in sorted(self.students)]
            if not groups and not students:
                raise Invalid(N_("Choose at least one group or student, or the whole class."),
                              field="targets")
        return {"title": self.title, "instructions": self.instructions,
                "due_at": parse_local(self.due_local, tz_name()),
                "resource_uids": self.resources, "group_ids": groups, "student_ids": students}


def _form_page(classroom: Classroom, form: AssignmentForm, assignment: Assignment | None = None,
               *, error: ArdoiseError | None = None, searched: bool = False) -> Any:
    s = db.session()
    lang = locale()
    attached = library.describe(s, form.resources, lang)
    results = [r for r in library.search(s, form.q, lang) if r.uid not in form.resources
               ] if searched else None
    return render_template(
        "teacher/assignment_form.html", classroom=classroom, form=form, assignment=assignment,
        groups=grouping.list_groups(s, g.user, classroom.id),
        students=class_students(s, classroom.id), attached=attached, results=results,
        error=error.render(lang) if error else None,
        error_field=error.params.get("field") if error else None,
    ), (error.status if error else 200)


@bp.route("/classes/<uuid:classroom_id>/assignments/new", methods=["GET", "POST"])
@access.roles(*STAFF)
def new_assignment(classroom_id: uuid.UUID) -> Any:
    s = db.session()
    classroom = class_for_staff(s, g.user, classroom_id)
    if request.method == "GET":
        return _form_page(classroom, AssignmentForm())
    form = AssignmentForm.from_request()
    action = request.form.get("action", "save")
    if action == "search":
        return _form_page(classroom, form, searched=True)
    try:
        status = AssignmentStatus.PUBLISHED if action == "publish" else AssignmentStatus.DRAFT
        a = work.create_assignment(s, g.user, classroom.id, status=status, **form.fields())
    except ArdoiseError as exc:
        s.rollback()
        return _form_page(classroom, form, error=exc)
    flash(_("Assignment published.") if action == "publish" else _("Draft saved."), "success")
    return redirect(url_for("teacher.assignment", assignment_id=a.id))


@bp.route("/assignments/<uuid:assignment_id>/edit", methods=["GET", "POST"])
@access.roles(*STAFF)
def edit_assignment(assignment_id: uuid.UUID) -> Any:
    s = db.session()
    a = assignment_for_staff(s, g.user, assignment_id)
    classroom = class_for_staff(s, g.user, a.classroom_id)
    if request.method == "GET":
        return _form_page(classroom, AssignmentForm.of(a), a)
    form = AssignmentForm.from_request()
    action = request.form.get("action", "save")
    if action == "search":
        return _form_page(classroom, form, a, searched=True)
    try:
        extra = {"status": AssignmentStatus.PUBLISHED} if action == "publish" else {}
        work.update_assignment(s, g.user, a.id, **form.fields(), **extra)
    except ArdoiseError as exc:
        s.rollback()
        return _form_page(classroom, form, a, error=exc)
    flash(_("Assignment published.") if action == "publish" else _("Changes saved."), "success")
    return redirect(url_for("teacher.assignment", assignment_id=a.id))


@bp.post("/assignments/<uuid:assignment_id>/status")
@access.roles(*STAFF)
def change_status(assignment_id: uuid.UUID) -> Any:
    s = db.session()
    target = request.form.get("status", "")
    try:
        work.set_status(s, g.user, assignment_id, target)
    except ArdoiseError as exc:
        if exc.status == 404:
            raise
        flash(exc.render(locale()), "error")
    else:
        flash({"published": _("Assignment published."), "closed": _("Assignment closed.")
               }.get(target, _("Changes saved.")), "success")
    return redirect(url_for("teacher.assignment", assignment_id=assignment_id))


# -- who handed in, review, feedback ---------------------------------------------------

@bp.get("/assignments/<uuid:assignment_id>/")
@access.roles(*STAFF)
def assignment(assignment_id: uuid.UUID) -> Any:
    s = db.session()
    a, rows = class_work(s, g.user, assignment_id)
    targets = work.targets_of(s, a.id)
    group_names = {gi.group.id: gi.group.name for gi in grouping.list_groups(s, g.user,
                                                                             a.classroom_id)}
    return render_template(
        "teacher/assignment.html", a=a, rows=rows,
        classroom=class_for_staff(s, g.user, a.classroom_id), targets=targets,
        target_groups=[group_names.get(gid, "?") for gid in targets.group_ids],
        resources=library.describe(s, work.resource_uids(s, a.id), locale()),
        handed_in=sum(1 for r in rows if r.targeted and r.count))


@bp.route("/assignments/<uuid:assignment_id>/students/<uuid:student_id>",
          methods=["GET", "POST"])
@access.roles(*STAFF)
def review(assignment_id: uuid.UUID, student_id: uuid.UUID) -> Any:
    s = db.session()
    a = assignment_for_staff(s, g.user, assignment_id)
    error = None
    comment, mark = None, None
    if request.method == "POST":
        comment, mark = request.form.get("comment", ""), request.form.get("mark", "")
        try:
            save_feedback(s, g.user, a.id, student_id, comment=comment, mark=mark)
        except ArdoiseError as exc:
            if exc.status == 404:
                raise
            s.rollback()
            error = exc
        else:
            flash(_("Feedback saved. The student can see it."), "success")
            return redirect(url_for("teacher.review", assignment_id=a.id,
                                    student_id=student_id))
    student_work = work_for_staff(s, g.user, a.id, student_id)
    fb = student_work.feedback
    return render_template(
        "teacher/review.html", a=a, work=student_work,
        comment=comment if comment is not None else (fb.comment if fb else ""),
        mark=mark if mark is not None else ((fb.mark or "") if fb else ""),
        error=error.render(locale()) if error else None), (error.status if error else 200)


@bp.get("/files/<uuid:file_id>")
@access.roles(*STAFF)
def work_file(file_id: uuid.UUID) -> Any:
    record, path = file_for(db.session(), blob_store(), g.user, file_id)
    return send_work_file(record, path)


# -- groups ---------------------------------------------------------------------------

@bp.route("/classes/<uuid:classroom_id>/groups", methods=["GET", "POST"])
@access.roles(*STAFF)
def groups(classroom_id: uuid.UUID) -> Any:
    s = db.session()
    classroom = class_for_staff(s, g.user, classroom_id)
    error, name = None, ""
    if request.method == "POST":
        name = request.form.get("name", "")
        try:
            group = grouping.create_group(s, g.user, classroom.id, name)
        except ArdoiseError as exc:
            s.rollback()
            error = exc
        else:
            flash(_("Group created. Now add its students."), "success")
            return redirect(url_for("teacher.group", group_id=group.id))
    return render_template("teacher/groups.html", classroom=classroom, name=name,
                           groups=grouping.list_groups(s, g.user, classroom.id),
                           error=error.render(locale()) if error else None
                           ), (error.status if error else 200)


@bp.get("/groups/<uuid:group_id>")
@access.roles(*STAFF)
def group(group_id: uuid.UUID) -> Any:
    s = db.session()
    info = grouping.get_group(s, g.user, group_id)
    return render_template("teacher/group.html", info=info,
                           classroom=class_for_staff(s, g.user, info.group.classroom_id),
                           candidates=grouping.candidates(s, g.user, group_id))


def _group_action(group_id: uuid.UUID, action: Callable[[Session], None], done: str) -> Any:
    s = db.session()
    try:
        action(s)
    except ArdoiseError as exc:
        if exc.status == 404:
            raise
        s.rollback()
        flash(exc.render(locale()), "error")
    else:
        flash(done, "success")
    return redirect(url_for("teacher.group", group_id=group_id))


@bp.post("/groups/<uuid:group_id>/members")
@access.roles(*STAFF)
def add_members(group_id: uuid.UUID) -> Any:
    def run(s: Session) -> None:
        chosen = request.form.getlist("student_id")
        if not chosen:
            raise Invalid(N_("Choose at least one student to add."), field="student_id")
        for raw in chosen:
            grouping.add_member(s, g.user, group_id, parse_uuid(raw, "student_id"))
    return _group_action(group_id, run, _("Students added to the group."))


@bp.post("/groups/<uuid:group_id>/members/remove")
@access.roles(*STAFF)
def remove_member(group_id: uuid.UUID) -> Any:
    def run(s: Session) -> None:
        grouping.remove_member(s, g.user, group_id,
                               parse_uuid(request.form.get("student_id", ""), "student_id"))
    return _group_action(group_id, run, _("Student removed from the group."))


@bp.post("/groups/<uuid:group_id>/rename")
@access.roles(*STAFF)
def rename_group(group_id: uuid.UUID) -> Any:
    def run(s: Session) -> None:
        grouping.rename_group(s, g.user, group_id, request.form.get("name", ""))
    return _group_action(group_id, run, _("Group renamed."))


# -- progress -------------------------------------------------------------------------

@bp.get("/classes/<uuid:classroom_id>/progress")
@access.roles(*STAFF)
def progress(classroom_id: uuid.UUID) -> Any:
    table = class_progress(db.session(), g.user, classroom_id, locale())
    return render_template("teacher/progress.html", table=table, classroom=table.classroom)
