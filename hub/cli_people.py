"""`ardoise school`, `ardoise class` and `ardoise user`: thin commands over `hub.people`.

Generated passwords and codes are printed once and never stored in clear; errors come out
translated through `ArdoiseGroup`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from ardoise.cli import ArdoiseGroup, Context, pass_ctx
from ardoise.errors import Invalid
from ardoise.i18n import N_, cli_locale, translate
from hub import people
from hub.models import Role, School


def say(message: str, **params: Any) -> None:
    click.echo(translate(message, cli_locale(), **params))


def _school(s: Any, code: str | None) -> School:
    """The school named by --school, or the only one when the hub has just one."""
    if code:
        return people.get_school(s, code)
    schools = people.list_schools(s)
    if len(schools) == 1:
        return schools[0]
    if not schools:
        raise Invalid(N_("There is no school yet. Add one with 'ardoise school add NAME "
                         "--code CODE'."))
    raise Invalid(N_("This hub has several schools: say which with --school CODE."))


def _show_issued(issued: people.Issued) -> None:
    """Print a new secret once, with what it is and how to use it."""
    user = issued.user
    say(N_("Username: %(username)s (%(name)s)"), username=user.username, name=user.full_name)
    if issued.kind == "password":
        say(N_("Password: %(secret)s"), secret=issued.secret)
    elif issued.kind == "pin":
        say(N_("PIN: %(secret)s"), secret=issued.secret)
    else:
        labels = ", ".join(translate(p.label, cli_locale()) for p in issued.pictures)
        say(N_("Picture code: %(secret)s (%(labels)s)"), secret=issued.secret, labels=labels)
    say(N_("It is shown only this once: note it now."))


# -- schools --------------------------------------------------------------------------------

@click.group("school", cls=ArdoiseGroup)
def school_group() -> None:
    """Schools on this hub."""


@school_group.command("add")
@click.argument("name")
@click.option("--code", required=True, help="Short code: lower-case letters, digits, dashes.")
@pass_ctx
def school_add(obj: Context, name: str, code: str) -> None:
    """Add a school."""
    with obj.session() as s:
        school = people.create_school(s, name, code)
        s.commit()
        say(N_("School %(name)s added (code %(code)s)."), name=school.name, code=school.code)


@school_group.command("list")
@pass_ctx
def school_list(obj: Context) -> None:
    """List the schools: code and name."""
    with obj.session() as s:
        for school in people.list_schools(s):
            click.echo(f"{school.code}\t{school.name}")


# -- classes --------------------------------------------------------------------------------

@click.group("class", cls=ArdoiseGroup)
def class_group() -> None:
    """Classes and who is in them."""


@class_group.command("add")
@click.argument("name")
@click.option("--school", "school_code", required=True, help="School code.")
@click.option("--grade", help="Grade, e.g. 5 or 'maternelle'.")
@pass_ctx
def class_add(obj: Context, name: str, school_code: str, grade: str | None) -> None:
    """Add a class to a school."""
    with obj.session() as s:
        classroom = people.create_classroom(s, people.get_school(s, school_code), name, grade)
        s.commit()
        say(N_("Class %(name)s added."), name=classroom.name)


@class_group.command("list")
@click.option("--school", "school_code", help="Only this school.")
@pass_ctx
def class_list(obj: Context, school_code: str | None) -> None:
    """List the classes: school, name, grade, number of students."""
    with obj.session() as s:
        school = people.get_school(s, school_code) if school_code else None
        for c in people.list_classrooms(s, school):
            click.echo(f"{c.school.code}\t{c.name}\t{c.grade or ''}\t"
                       f"{len(people.students_of(s, c))}")


@class_group.command("enroll")
@click.argument("classroom_name", metavar="CLASS")
@click.argument("usernames", nargs=-1, required=True)
@click.option("--school", "school_code", help="School code (needed if several).")
@pass_ctx
def class_enroll(obj: Context, classroom_name: str, usernames: tuple[str, ...],
                 school_code: str | None) -> None:
    """Put students in a class, or make teachers teach it."""
    with obj.session() as s:
        school = _school(s, school_code)
        classroom = people.find_classroom(s, school, classroom_name)
        for username in usernames:
            people.enroll(s, classroom, people.find_user(s, school, username))
        s.commit()
        say(N_("%(count)s people added to %(classroom)s."), count=len(usernames),
            classroom=classroom.name)


# -- users ----------------------------------------------------------------------------------

@click.group("user", cls=ArdoiseGroup)
def user_group() -> None:
    """Students, teachers and administrators."""


@user_group.command("add")
@click.option("--school", "school_code", required=True, help="School code.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", "full_name", required=True, help='Full name, e.g. "Élodie Côté".')
@click.option("--username", help="Default: made from the name (elodie.cote).")
@click.option("--class", "classroom_name", help="Enrol in this class (by name).")
@click.option("--pin", help="Students only: sign in with this PIN instead of pictures.")
@pass_ctx
def user_add(obj: Context, school_code: str, role: str, full_name: str,
             username: str | None, classroom_name: str | None, pin: str | None) -> None:
    """Add a user; prints their generated password or picture code once."""
    with obj.session() as s:
        school = people.get_school(s, school_code)
        classroom = people.find_classroom(s, school, classroom_name) if classroom_name else None
        issued = people.create_user(s, school, role, full_name, username=username,
                                    classroom=classroom, pin=pin)
        s.commit()
        _show_issued(issued)


@user_group.command("list")
@click.option("--school", "school_code", help="Only this school.")
@click.option("--role", type=click.Choice([r.value for r in Role]), help="Only this role.")
@click.option("--class", "classroom_name", help="Only this class (by name).")
@pass_ctx
def user_list(obj: Context, school_code: str | None, role: str | None,
              classroom_name: str | None) -> None:
    """List users: school, username, role, full name, classes, active or not."""
    with obj.session() as s:
        school = people.get_school(s, school_code) if school_code else None
        classroom = None
        if classroom_name:
            school = school or _school(s, None)
            classroom = people.find_classroom(s, school, classroom_name)
        for u in people.list_users(s, school, role=role, classroom=classroom):
            classes = ", ".join(c.name for c in people.classes_of(s, u))
            state = "" if u.active else translate(N_("deactivated"), cli_locale())
            click.echo(f"{u.school.code}\t{u.username}\t{u.role}\t{u.full_name}\t{classes}"
                       f"\t{state}".rstrip())


@user_group.command("reset-password")
@click.argument("username")
@click.option("--school", "school_code", help="School code (needed if several).")
@pass_ctx
def user_reset(obj: Context, username: str, school_code: str | None) -> None:
    """New generated password (staff) or picture code (students); signs them out everywhere."""
    with obj.session() as s:
        user = people.find_user(s, _school(s, school_code), username)
        issued = people.reset_secret(s, user)
        s.commit()
        _show_issued(issued)


@user_group.command("set-password")
@click.argument("username")
@click.option("--school", "school_code", help="School code (needed if several).")
@click.password_option("--password", help="Asked for when not given.")
@pass_ctx
def user_set_password(obj: Context, username: str, school_code: str | None,
                      password: str) -> None:
    """Set a password chosen by its owner (teachers and administrators)."""
    with obj.session() as s:
        people.set_password(s, people.find_user(s, _school(s, school_code), username), password)
        s.commit()
        say(N_("Password changed."))


@user_group.command("deactivate")
@click.argument("username")
@click.option("--school", "school_code", help="School code (needed if several).")
@pass_ctx
def user_deactivate(obj: Context, username: str, school_code: str | None) -> None:
    """Stop a user from signing in (their work stays)."""
    with obj.session() as s:
        user = people.find_user(s, _school(s, school_code), username)
        people.deactivate(s, user)
        s.commit()
        say(N_("%(name)s can no longer sign in."), name=user.full_name)


@user_group.command("import-csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_code", required=True, help="School code.")
@click.option("--class", "classroom_name", required=True, help="Class to enrol them in.")
@click.option("--codes-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the generated codes to this CSV (readable by you only).")
@pass_ctx
def user_import(obj: Context, file: Path, school_code: str, classroom_name: str,
                codes_out: Path | None) -> None:
    """Import the students of a class list (CSV with a header line: full_name, and
    optionally username, pin). Prints a report; the codes go to --codes-out, or are printed."""
    locale = cli_locale()
    if codes_out is not None and not codes_out.parent.is_dir():
        raise Invalid(N_("Folder %(path)s does not exist: choose where to write the codes."),
                      path=str(codes_out.parent))
    with obj.session() as s:
        school = people.get_school(s, school_code)
        classroom = people.find_classroom(s, school, classroom_name)
        report = people.import_csv(s, school, classroom, file.read_bytes())
        tmp = None
        if codes_out is not None and report.imported:
            tmp = _write_private(codes_out, people.codes_csv(report.imported, locale))
        try:
            s.commit()
        except BaseException:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise
        if tmp is not None and codes_out is not None:
            tmp.replace(codes_out)
    say(N_("%(count)s students imported into %(classroom)s."), count=len(report.imported),
        classroom=classroom.name)
    if report.rejected:
        say(N_("%(count)s lines left out:"), count=len(report.rejected))
        for r in report.rejected:
            say(N_("  line %(line)s: %(reason)s"), line=r.line, reason=r.render(locale))
    if codes_out is not None and report.imported:
        say(N_("Codes written to %(path)s: keep this file private."), path=str(codes_out))
    elif report.imported:
        for item in report.imported:
            labels = ", ".join(translate(p.label, locale) for p in item.pictures)
            click.echo(f"{item.user.username}\t{item.user.full_name}\t{item.secret}"
                       + (f"\t({labels})" if labels else ""))


def _write_private(path: Path, text: str) -> Path:
    """Write next to `path` a file only its owner can read; the caller renames it."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp

