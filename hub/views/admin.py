"""The technician's pages: users (add, import a class list, reset, deactivate) and classes
(add, enrol). An administrator manages their own school only; the rules are in
`hub.people`."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from ardoise.errors import ArdoiseError, Conflict, Invalid, NotFound
from ardoise.i18n import N_
from hub import access, db, people
from hub.models import Classroom, Role, User

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_CHOICES = (Role.STUDENT, Role.TEACHER, Role.ADMIN)
ROLE_LABELS = {Role.STUDENT: N_("student"), Role.TEACHER: N_("teacher"),
               Role.ADMIN: N_("administrator")}


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"role_label": lambda role: _(ROLE_LABELS[Role(role)])}


def _locale() -> str:
    return str(get_locale() or "fr_CA")


def _school() -> Any:
    return g.user.school


def _uuid(value: str | None, message: str) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        raise Invalid(message) from None


def _classroom(classroom_id: uuid.UUID) -> Classroom:
    classroom = people.get_classroom(db.session(), classroom_id)
    if classroom.school_id != g.user.school_id:
        raise NotFound(N_("This class does not exist."))
    return classroom


def _optional_classroom(value: str | None) -> Classroom | None:
    if not value:
        return None
    return _classroom(_uuid(value, N_("This class does not exist.")))


def _user(user_id: uuid.UUID) -> User:
    return people.get_user(db.session(), user_id, school=_school())


@bp.get("/")
@access.roles(Role.ADMIN)
def home() -> Any:
    return render_template("admin/home.html", school=_school())


# -- users ----------------------------------------------------------------------------------

@bp.get("/users")
@access.roles(Role.ADMIN)
def users() -> Any:
    s = db.session()
    role = request.args.get("role") or None
    classroom = _optional_classroom(request.args.get("class"))
    rows = people.list_users(s, _school(), role=role, classroom=classroom)
    return render_template("admin/users.html", users=rows, role=role, classroom=classroom,
                           classes=people.list_classrooms(s, _school()), roles=ROLE_CHOICES,
                           classes_of={u.id: people.classes_of(s, u) for u in rows})


@bp.route("/users/new", methods=["GET", "POST"])
@access.roles(Role.ADMIN)
def new_user() -> Any:
    s = db.session()
    form = {k: request.form.get(k, "") for k in ("full_name", "role", "username", "class")}
    error, status = None, 200
    if request.method == "POST":
        try:
            issued = people.create_user(s, _school(), form["role"] or "",
                                        form["full_name"], username=form["username"] or None,
                                        classroom=_optional_classroom(form["class"]))
        except (Invalid, Conflict, NotFound) as exc:
            s.rollback()
            error, status = exc.render(_locale()), exc.status
        else:
            s.commit()
            return render_template("admin/issued.html", issued=[issued],
                                   title=_("Account created")), 201
    return render_template("admin/user_new.html", form=form, error=error, roles=ROLE_CHOICES,
                           classes=people.list_classrooms(s, _school())), status


@bp.post("/users/<uuid:user_id>/reset")
@access.roles(Role.ADMIN)
def reset_user(user_id: uuid.UUID) -> Any:
    s = db.session()
    issued = people.reset_secret(s, _user(user_id))
    s.commit()
    return render_template("admin/issued.html", issued=[issued],
                           title=_("New password or code"))


@bp.post("/users/<uuid:user_id>/deactivate")
@access.roles(Role.ADMIN)
def deactivate_user(user_id: uuid.UUID) -> Any:
    s = db.session()
    user = _user(user_id)
    people.deactivate(s, user, by=g.user)
    s.commit()
    flash(_("%(name)s can no longer sign in.", name=user.full_name), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<uuid:user_id>/reactivate")
@access.roles(Role.ADMIN)
def reactivate_user(user_id: uuid.UUID) -> Any:
    s = db.session()
    user = _user(user_id)
    people.reactivate(s, user)
    s.commit()
    flash(_("%(name)s can sign in again.", name=user.full_name), "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/import", methods=["GET", "POST"])
@access.roles(Role.ADMIN)
def import_users() -> Any:
    s = db.session()
    classes = people.list_classrooms(s, _school())
    error, status, report, classroom = None, 200, None, None
    if request.method == "POST":
        upload = request.files.get("file")
        try:
            classroom = _optional_classroom(request.form.get("class"))
            if classroom is None:
                raise Invalid(N_("Choose the class to import the students into."))
            if upload is None or not upload.filename:
                raise Invalid(N_("Choose the class list file (CSV) to import."))
            report = people.import_csv(s, _school(), classroom, upload.read())
        except ArdoiseError as exc:
            s.rollback()
            if exc.status >= 500:
                raise
            error, status, report = exc.render(_locale()), exc.status, None
        else:
            s.commit()
    return render_template("admin/import.html", classes=classes, error=error, report=report,
                           classroom=classroom, locale=_locale()), status


# -- classes --------------------------------------------------------------------------------

@bp.route("/classes", methods=["GET", "POST"])
@access.roles(Role.ADMIN)
def classes() -> Any:
    s = db.session()
    error, status = None, 200
    form = {"name": request.form.get("name", ""), "grade": request.form.get("grade", "")}
    if request.method == "POST":
        try:
            classroom = people.create_classroom(s, _school(), form["name"], form["grade"])
        except (Invalid, Conflict) as exc:
            s.rollback()
            error, status = exc.render(_locale()), exc.status
        else:
            s.commit()
            flash(_("Class %(name)s created.", name=classroom.name), "success")
            return redirect(url_for("admin.classroom", classroom_id=classroom.id))
    rows = people.list_classrooms(s, _school())
    counts = {c.id: len(people.students_of(s, c)) for c in rows}
    return render_template("admin/classes.html", classes=rows, counts=counts, form=form,
                           error=error), status


@bp.get("/classes/<uuid:classroom_id>")
@access.roles(Role.ADMIN)
def classroom(classroom_id: uuid.UUID) -> Any:
    s = db.session()
    room = _classroom(classroom_id)
    students = people.students_of(s, room, include_inactive=True)
    teachers = people.teachers_of(s, room)
    members = {u.id for u in students + teachers}
    others = [u for u in people.list_users(s, _school(), include_inactive=False)
              if u.id not in members]
    return render_template("admin/classroom.html", classroom=room, students=students,
                           teachers=teachers, others=others)


@bp.post("/classes/<uuid:classroom_id>/enroll")
@access.roles(Role.ADMIN)
def enroll(classroom_id: uuid.UUID) -> Any:
    s = db.session()
    room = _classroom(classroom_id)
    user = _user(_uuid(request.form.get("user"), N_("Choose who to add to the class.")))
    people.enroll(s, room, user)
    s.commit()
    flash(_("%(name)s added to %(classroom)s.", name=user.full_name, classroom=room.name),
          "success")
    return redirect(url_for("admin.classroom", classroom_id=room.id))


@bp.post("/classes/<uuid:classroom_id>/unenroll")
@access.roles(Role.ADMIN)
def unenroll(classroom_id: uuid.UUID) -> Any:
    s = db.session()
    room = _classroom(classroom_id)
    user = _user(_uuid(request.form.get("user"), N_("Choose who to take out of the class.")))
    people.unenroll(s, room, user)
    s.commit()
    flash(_("%(name)s taken out of %(classroom)s.", name=user.full_name, classroom=room.name),
          "success")
    return redirect(url_for("admin.classroom", classroom_id=room.id))
