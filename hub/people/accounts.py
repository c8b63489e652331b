"""User accounts: creating them with a generated secret, resetting, deactivating, finding.

There are no default passwords: every secret is generated here, returned once to be shown
or printed, and only its hash is kept. A reset bumps `auth_epoch`, which signs the user
out of every device.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.errors import Conflict, Invalid, NotFound
from ardoise.i18n import N_
from hub.auth import ratelimit
from hub.auth.codes import (
    Picture,
    check_pin,
    generate_picture_code,
    generate_pin,
    hash_code,
    pictures_of,
)
from hub.auth.passwords import (
    check_password_rules,
    generate_password,
    hash_password,
    verify_password,
)
from hub.auth.ratelimit import Limits
from hub.models import Classroom, Enrollment, Role, School, User
from hub.people.names import (
    check_username,
    clean_full_name,
    sort_key,
    unique_username,
    username_base,
)
from hub.people.schools import enroll, students_of


class Issued(NamedTuple):
    """A user and the secret just generated for them (shown once, never stored in clear)."""

    user: User
    secret: str

    @property
    def kind(self) -> str:
        """'password' (staff), 'pin' or 'picture' (students)."""
        if self.user.role != Role.STUDENT:
            return "password"
        return "pin" if self.secret.isdigit() else "picture"

    @property
    def pictures(self) -> list[Picture]:
        return pictures_of(self.secret) if self.kind == "picture" else []


def parse_role(value: Role | str) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise Invalid(N_("Unknown role %(role)s: use student, teacher or admin."),
                      role=str(value)) from None


def username_taken(s: Session, school_id: uuid.UUID, username: str) -> bool:
    return s.scalar(select(User.id).where(User.school_id == school_id,
                                          User.username == username)) is not None


def create_user(s: Session, school: School, role: Role | str, full_name: str, *,
                username: str | None = None, classroom: Classroom | None = None,
                pin: str | None = None, language: str | None = None) -> Issued:
    """A new user with a generated secret: a password for staff, a picture code for a
    student (or the PIN given for them). The username is made from the name when not
    given ('Élodie Côté' -> 'elodie.cote', 'elodie.cote2' if taken in the school)."""
    role = parse_role(role)
    full_name = clean_full_name(full_name)
    if username:
        username = check_username(username)
        if username_taken(s, school.id, username):
            raise Conflict(N_("The username %(username)s is already used in this school."),
                           username=username)
    else:
        username = unique_username(username_base(full_name),
                                   lambda name: username_taken(s, school.id, name))
    user = User(school_id=school.id, role=role, username=username, full_name=full_name,
                language=language)
    if role == Role.STUDENT:
        if pin:
            secret = check_pin(pin)
            user.pin_hash = hash_code(secret)
        else:
            secret = generate_picture_code()
            user.picture_code_hash = hash_code(secret)
    else:
        if pin:
            raise Invalid(N_("Only students sign in with a PIN."))
        secret = generate_password()
        user.password_hash = hash_password(secret)
    s.add(user)
    s.flush()
    if classroom is not None:
        enroll(s, classroom, user)
    return Issued(user, secret)


def reset_password(s: Session, user: User) -> Issued:
    """A new generated password for a teacher or administrator; signs them out everywhere."""
    if user.role == Role.STUDENT:
        raise Invalid(N_("Students have a code, not a password."))
    secret = generate_password()
    user.password_hash = hash_password(secret)
    user.auth_epoch += 1
    s.flush()
    return Issued(user, secret)


def reset_code(s: Session, user: User) -> Issued:
    """A new code for a student, of the kind they have (a new PIN for a PIN, else pictures);
    signs them out everywhere."""
    if user.role != Role.STUDENT:
        raise Invalid(N_("Only students have a code; teachers and administrators have a "
                         "password."))
    if user.pin_hash:
        secret = generate_pin()
        user.pin_hash = hash_code(secret)
        user.picture_code_hash = None
    else:
        secret = generate_picture_code()
        user.picture_code_hash = hash_code(secret)
    user.auth_epoch += 1
    s.flush()
    return Issued(user, secret)


def reset_secret(s: Session, user: User) -> Issued:
    """A new password for staff, a new code for a student."""
    return reset_code(s, user) if user.role == Role.STUDENT else reset_password(s, user)


def set_password(s: Session, user: User, password: str) -> None:
    """A password chosen by its owner (rules checked); other devices are signed out."""
    if user.role == Role.STUDENT:
        raise Invalid(N_("Students have a code, not a password."))
    check_password_rules(password)
    user.password_hash = hash_password(password)
    user.auth_epoch += 1
    s.flush()


def set_pin(s: Session, user: User, pin: str) -> None:
    """Give a student a PIN chosen by their teacher instead of a picture code."""
    if user.role != Role.STUDENT:
        raise Invalid(N_("Only students sign in with a PIN."))
    user.pin_hash = hash_code(check_pin(pin))
    user.picture_code_hash = None
    user.auth_epoch += 1
    s.flush()


def change_password(s: Session, user: User, current: str, new: str, *,
                    address: str | None, limits: Limits) -> None:
    """A teacher or administrator replaces their own password, proving the current one
    (wrong guesses count like failed sign-ins). Commits, as failures must be kept."""
    account = ratelimit.account_key(user.id)
    address_key = ratelimit.address_key(address)
    ratelimit.check(s, account=account, address=address_key, limits=limits)
    if not verify_password(user.password_hash, current or "")[0]:
        ratelimit.record_failure(s, account=account, address=address_key, limits=limits)
        s.commit()
        # 400, not 401: the user is signed in, only this field is wrong.
        raise Invalid(N_("The current password is wrong."))
    set_password(s, user, new)
    s.commit()


def deactivate(s: Session, user: User, *, by: User | None = None) -> None:
    """The user can no longer sign in and is signed out everywhere; their work stays.
    Nobody deactivates their own account (an administrator would lock the school out)."""
    if by is not None and by.id == user.id:
        raise Invalid(N_("You cannot deactivate your own account."))
    user.active = False
    user.auth_epoch += 1
    s.flush()


def reactivate(s: Session, user: User) -> None:
    user.active = True
    s.flush()


def get_user(s: Session, user_id: uuid.UUID, school: School | None = None) -> User:
    """A user by id; NotFound if missing or (when `school` is given) of another school."""
    user = s.get(User, user_id)
    if user is None or user.deleted or (school is not None and user.school_id != school.id):
        raise NotFound(N_("This user does not exist."))
    return user


def find_user(s: Session, school: School, username: str) -> User:
    user = s.scalar(select(User).where(User.school_id == school.id,
                                       User.username == (username or "").strip().lower(),
                                       User.deleted.is_(False)))
    if user is None:
        raise NotFound(N_("School %(school)s has no user %(username)s. See 'ardoise user "
                          "list'."), school=school.code, username=username)
    return user


def list_users(s: Session, school: School | None = None, role: Role | str | None = None,
               classroom: Classroom | None = None, *, include_inactive: bool = True
               ) -> list[User]:
    """Users by name, optionally of one school, one role, one class."""
    query = select(User).where(User.deleted.is_(False))
    if school is not None:
        query = query.where(User.school_id == school.id)
    if role:
        query = query.where(User.role == parse_role(role))
    if classroom is not None:
        query = query.join(Enrollment, Enrollment.user_id == User.id).where(
            Enrollment.classroom_id == classroom.id, Enrollment.deleted.is_(False))
    if not include_inactive:
        query = query.where(User.active.is_(True))
    return sorted(s.scalars(query), key=lambda u: (sort_key(u.full_name), u.username))


def reset_class_codes(s: Session, classroom: Classroom,
                      student_ids: list[uuid.UUID] | None = None) -> list[Issued]:
    """New codes for every active student of the class, or for the given ones (who must be
    in it). Check first that the caller may manage the class (`managed_classroom`)."""
    students = students_of(s, classroom)
    if student_ids is not None:
        by_id = {u.id: u for u in students}
        missing = [i for i in student_ids if i not in by_id]
        if missing:
            raise NotFound(N_("This student is not in the class %(classroom)s."),
                           classroom=classroom.name)
        students = [by_id[i] for i in student_ids]
    return [reset_code(s, u) for u in students]
