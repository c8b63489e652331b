"""Checking who signs in: staff with a username and a password, students with a code.

Both functions count failures (see `ratelimit`) and commit them at once, because the
caller's transaction ends with the error they raise and a failure must still be counted.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.errors import Forbidden, Invalid, NotFound, Unauthorized
from ardoise.i18n import N_
from hub.auth import ratelimit
from hub.auth.codes import is_pin, normalize_code, verify_code
from hub.auth.passwords import burn_time, verify_password
from hub.auth.ratelimit import Limits
from hub.models import Role, School, User

STAFF_ROLES = (Role.TEACHER, Role.ADMIN)

# Where each role lands after signing in.
ROLE_HOME = {Role.STUDENT: "/student/", Role.TEACHER: "/teacher/", Role.ADMIN: "/admin/"}


def role_home(role: Role) -> str:
    return ROLE_HOME[role]


def authenticate_staff(s: Session, username: str, password: str, *, address: str | None,
                       limits: Limits, school_code: str | None = None,
                       now: dt.datetime | None = None) -> User:
    """The teacher or administrator with this username and password, or an error:
    Invalid (empty fields), RateLimited (429), Unauthorized (401), Forbidden (deactivated).

    Usernames are unique per school; without `school_code` every school's account with
    this username is tried (a hub usually has one school).
    """
    username = (username or "").strip().lower()
    if not username or not password:
        raise Invalid(N_("Enter your username and your password."))
    query = select(User).where(User.username == username, User.role.in_(STAFF_ROLES),
                               User.deleted.is_(False))
    if school_code:
        query = query.join(School, School.id == User.school_id).where(
            School.code == school_code.strip().lower())
    candidates = list(s.scalars(query.order_by(User.id)))
    account = ratelimit.account_key(candidates[0].id if len(candidates) == 1
                                    else f"name:{username}")
    address_key = ratelimit.address_key(address)
    had_failures = ratelimit.check(s, account=account, address=address_key, limits=limits,
                                   now=now)
    if not candidates:
        burn_time()
    for user in candidates:
        ok, new_hash = verify_password(user.password_hash, password)
        if ok:
            if not user.active:
                raise Forbidden(N_("This account has been deactivated. Ask your school's "
                                   "administrator."))
            _succeeded(s, user, new_hash, "password_hash", account if had_failures else None)
            return user
    ratelimit.record_failure(s, account=account, address=address_key, limits=limits, now=now)
    s.commit()
    raise Unauthorized(N_("Wrong username or password."))


def authenticate_student(s: Session, student_id: uuid.UUID, code: str, *,
                         address: str | None, limits: Limits,
                         now: dt.datetime | None = None) -> User:
    """The student if `code` is their picture code or PIN, or an error: NotFound,
    Invalid (empty code), RateLimited (429), Unauthorized (401), Forbidden (deactivated)."""
    student = s.get(User, student_id)
    if student is None or student.deleted or student.role != Role.STUDENT:
        raise NotFound(N_("This student does not exist."))
    code = normalize_code(code or "")
    if not code:
        raise Invalid(N_("Enter your code."))
    account = ratelimit.account_key(student.id)
    address_key = ratelimit.address_key(address)
    had_failures = ratelimit.check(s, account=account, address=address_key, limits=limits,
                                   now=now)
    column = "pin_hash" if is_pin(code) else "picture_code_hash"
    ok, new_hash = verify_code(getattr(student, column), code)
    if not ok:
        ratelimit.record_failure(s, account=account, address=address_key, limits=limits,
                                 now=now)
        s.commit()
        raise Unauthorized(N_("This is not the right code. Try again."))
    if not student.active:
        raise Forbidden(N_("This account has been deactivated. Ask your teacher."))
    _succeeded(s, student, new_hash, column, account if had_failures else None)
    return student


def _succeeded(s: Session, user: User, new_hash: str | None, column: str,
               clear_key: str | None) -> None:
    """Save a re-made hash and forget the account's failures; write only when needed."""
    if new_hash is not None:
        setattr(user, column, new_hash)
    if clear_key is not None:
        ratelimit.clear(s, clear_key)
    if new_hash is not None or clear_key is not None:
        s.commit()
