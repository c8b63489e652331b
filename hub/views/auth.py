"""Sign-in pages: the class picker and picture codes for students, the password form for
adults, one-tap sign-out, a teacher's page of new codes, and changing one's password.

The rules (checking codes, counting failures, who may reset whose code) are in `hub.auth`
and `hub.people`; these views only read forms and choose what to show.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
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

from ardoise.errors import Forbidden, Invalid, NotFound, RateLimited, Unauthorized
from ardoise.i18n import N_
from hub import access, db, people, session_auth
from hub.auth import (
    MIN_PASSWORD_LENGTH,
    PICTURE_BY_NAME,
    PICTURE_CODE_LENGTH,
    PICTURES,
    Limits,
    authenticate_staff,
    authenticate_student,
    normalize_code,
    role_home,
)
from hub.models import Classroom, Role, User

bp = Blueprint("auth", __name__)

# Remembers, on a shared tablet, the class that last used it (survives sign-out).
CLASS_COOKIE = "ardoise_class"
CLASS_COOKIE_DAYS = 365


def _locale() -> str:
    return str(get_locale() or "fr_CA")


def limits() -> Limits:
    return Limits.from_settings(current_app.extensions["ardoise.settings"])


def client_address() -> str | None:
    return request.remote_addr


def safe_next(value: str | None) -> str | None:
    """A local path to go back to after signing in, or None (no open redirect)."""
    if not value:
        return None
    value = value.strip()
    if value.endswith("?"):
        value = value[:-1]
    parts = urlsplit(value)
    if (not value.startswith("/") or value.startswith("//") or "\\" in value
            or parts.scheme or parts.netloc or any(ord(c) < 32 for c in value)):
        return None
    if parts.path.startswith(("/signin", "/signout")):
        return None
    return value


def _landing(user: User) -> Response:
    target = safe_next(request.values.get("next")) or role_home(user.role)
    return redirect(target)


def _remembered_class() -> uuid.UUID | None:
    try:
        return uuid.UUID(request.cookies.get(CLASS_COOKIE, ""))
    except ValueError:
        return None


def _remember_class(response: Response, classroom_id: uuid.UUID) -> None:
    settings = current_app.extensions["ardoise.settings"]
    response.set_cookie(CLASS_COOKIE, str(classroom_id), max_age=CLASS_COOKIE_DAYS * 86400,
                        httponly=True, samesite="Lax", secure=settings.secure_cookies)


# -- students -------------------------------------------------------------------------------

@bp.get("/signin")
@access.public
def start() -> Any:
    classes = people.list_classrooms(db.session())
    schools: dict[Any, list[Any]] = {}
    for classroom in classes:
        schools.setdefault(classroom.school, []).append(classroom)
    return render_template("auth/start.html", schools=schools,
                           next=safe_next(request.args.get("next")))


@bp.get("/signin/class/<uuid:classroom_id>")
@access.public
def pick_name(classroom_id: uuid.UUID) -> Any:
    s = db.session()
    classroom = people.get_classroom(s, classroom_id)
    return render_template("auth/names.html", classroom=classroom,
                           entries=people.picker_entries(s, classroom),
                           next=safe_next(request.args.get("next")))


def _student_classroom(student: User, wanted: str | None) -> Any:
    """The class the student came from (if they are in it), else their first class."""
    classes = people.classes_of(db.session(), student)
    for classroom in classes:
        if str(classroom.id) == wanted:
            return classroom
    return classes[0] if classes else None


def _code_page(student: User, *, entered: list[str] | None = None, error: str | None = None,
               status: int = 200) -> Any:
    classroom = _student_classroom(student, request.values.get("class"))
    names = {} if classroom is None else {
        u.id: name for u, name in people.picker_entries(db.session(), classroom)}
    entered = entered or []
    return render_template(
        "auth/code.html", student=student, shown_name=names.get(student.id, student.full_name),
        classroom=classroom, pictures=PICTURES, entered=[PICTURE_BY_NAME[n] for n in entered],
        code_length=PICTURE_CODE_LENGTH, uses_pin=bool(student.pin_hash),
        has_code=bool(student.pin_hash or student.picture_code_hash), error=error,
        next=safe_next(request.values.get("next"))), status


@bp.get("/signin/student/<uuid:student_id>")
@access.public
def code(student_id: uuid.UUID) -> Any:
    return _code_page(_find_student(student_id))


def _find_student(student_id: uuid.UUID) -> User:
    """An active student by id, or NotFound (the picker never lists anyone else)."""
    user = people.get_user(db.session(), student_id)
    if user.role != Role.STUDENT or not user.active:
        raise NotFound(N_("This student does not exist."))
    return user


@bp.post("/signin/student/<uuid:student_id>")
@access.public
def check_code(student_id: uuid.UUID) -> Any:
    """Check the code. Without JavaScript each picture tap posts here with the taps so far
    (`code`) and the new one (`tap`); the check happens once the code is complete."""
    student = _find_student(student_id)
    code = request.form.get("code", "")
    tap = request.form.get("tap")
    if tap is not None:
        entered = [n for n in normalize_code(code).split("-") if n in PICTURE_BY_NAME]
        if tap in PICTURE_BY_NAME:
            entered.append(tap)
        if len(entered) < PICTURE_CODE_LENGTH:
            return _code_page(student, entered=entered)
        code = "-".join(entered)
    s = db.session()
    try:
        user = authenticate_student(s, student.id, code, address=client_address(),
                                    limits=limits())
    except (Invalid, Unauthorized, RateLimited) as exc:
        return _code_page(student, error=exc.render(_locale()), status=exc.status)
    session_auth.sign_in(user)
    response = _landing(user)
    classroom = _student_classroom(user, request.form.get("class"))
    if classroom is not None:
        _remember_class(response, classroom.id)
    return response


# -- adults ---------------------------------------------------------------------------------

@bp.route("/signin/staff", methods=["GET", "POST"])
@access.public
def staff() -> Any:
    schools = people.list_schools(db.session())
    form = {"username": request.form.get("username", ""),
            "school": request.form.get("school", "")}
    error, status = None, 200
    if request.method == "POST":
        try:
            user = authenticate_staff(db.session(), form["username"],
                                      request.form.get("password", ""),
                                      address=client_address(), limits=limits(),
                                      school_code=form["school"] or None)
        except (Invalid, Unauthorized, RateLimited, Forbidden) as exc:
            error, status = exc.render(_locale()), exc.status
        else:
            session_auth.sign_in(user)
            return _landing(user)
    return render_template("auth/staff.html", schools=schools, form=form, error=error,
                           next=safe_next(request.values.get("next"))), status


@bp.post("/signout")
@access.public
def sign_out() -> Any:
    """One tap: sign out and show the names of the class this tablet last served."""
    session_auth.sign_out()
    remembered = _remembered_class()
    if remembered is not None:
        classroom = db.session().get(Classroom, remembered)
        if classroom is not None and not classroom.deleted:
            return redirect(url_for("auth.pick_name", classroom_id=remembered))
    return redirect(url_for("auth.start"))


# -- teachers: new codes for their class ----------------------------------------------------

@bp.route("/teacher/classes/<uuid:classroom_id>/codes", methods=["GET", "POST"])
@access.roles(Role.TEACHER, Role.ADMIN)
def class_codes(classroom_id: uuid.UUID) -> Any:
    """Codes are kept only as hashes, so this page makes new ones and shows them once,
    ready to print."""
    s = db.session()
    classroom = people.managed_classroom(s, g.user, classroom_id)
    if request.method == "GET":
        return render_template("auth/codes.html", classroom=classroom,
                               students=people.students_of(s, classroom))
    wanted = request.form.get("student")
    ids = None
    if wanted:
        try:
            ids = [uuid.UUID(wanted)]
        except ValueError:
            raise Invalid(N_("This student does not exist.")) from None
    issued = people.reset_class_codes(s, classroom, ids)
    s.commit()
    return render_template("auth/codes_sheet.html", classroom=classroom, issued=issued)


# -- adults: their own password -------------------------------------------------------------

@bp.route("/account/password", methods=["GET", "POST"])
@access.roles(Role.TEACHER, Role.ADMIN)
def password() -> Any:
    error, status = None, 200
    if request.method == "POST":
        s = db.session()
        new = request.form.get("new", "")
        try:
            if new != request.form.get("confirm", ""):
                raise Invalid(N_("The two new passwords are different."))
            people.change_password(s, g.user, request.form.get("current", ""), new,
                                   address=client_address(), limits=limits())
        except (Invalid, Unauthorized, RateLimited) as exc:
            s.rollback()
            error, status = exc.render(_locale()), exc.status
        else:
            session_auth.sign_in(g.user)  # the epoch moved: keep this device signed in
            flash(_("Your password has been changed. Your other devices are signed out."),
                  "success")
            return redirect(role_home(g.user.role))
    return render_template("auth/password.html", error=error,
                           min_length=MIN_PASSWORD_LENGTH), status
