"""Importing a class list from a spreadsheet, and writing out the codes it generated.

Teachers export class lists from Excel or LibreOffice: UTF-8 with or without a BOM, or
Windows-1252 (Excel's plain "CSV"), separated by commas or, in French Excel, semicolons.
The first line names the columns: `full_name` (or `first_name` and `last_name`), optional
`username` and `pin`; French names (`nom_complet`, `prenom`, `nom`, `nom_utilisateur`,
`nip`) work too. Every line is checked first; the valid ones are then added together in
the caller's transaction and the others reported with their line number and reason.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from ardoise.errors import Invalid
from ardoise.i18n import N_, translate
from hub.auth.codes import check_pin
from hub.models import Classroom, Role, School
from hub.people.accounts import Issued, create_user, username_taken
from hub.people.names import check_username, clean_full_name, sort_key, strip_accents
from hub.people.schools import students_of

MAX_LINES = 2000

_FULL = {"full_name", "fullname", "name", "nom_complet", "eleve", "student"}
_FIRST = {"first_name", "firstname", "given_name", "prenom"}
_LAST = {"last_name", "lastname", "surname", "family_name", "nom_de_famille"}
_USERNAME = {"username", "user", "login", "nom_utilisateur", "utilisateur", "identifiant"}
_PIN = {"pin", "nip"}


@dataclass(frozen=True)
class Rejected:
    """A line left out, and why (an English message id and its parameters)."""

    line: int
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, locale: str | None = None) -> str:
        return translate(self.message, locale, **self.params)


@dataclass
class ImportReport:
    imported: list[Issued] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def decode(data: bytes | str) -> str:
    """Text of an uploaded file: UTF-8 (BOM or not), else Windows-1252 as Excel writes."""
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise Invalid(N_("This file is not a text (CSV) file. In your spreadsheet, use "
                         "“Save as” and choose “CSV UTF-8”.")) from None


def _column(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", strip_accents(name.strip().strip("\ufeff")).lower())


def _roles_of(header: list[str]) -> dict[str, int]:
    """Which position holds which field (full_name, first_name, last_name, username, pin)."""
    names = [_column(h) for h in header]
    has_first = any(n in _FIRST for n in names)
    found: dict[str, int] = {}
    for i, n in enumerate(names):
        kind = ("full_name" if n in _FULL or (n == "nom" and not has_first)
                else "first_name" if n in _FIRST
                else "last_name" if n in _LAST or n == "nom"
                else "username" if n in _USERNAME
                else "pin" if n in _PIN else None)
        if kind is not None and kind not in found:
            found[kind] = i
    if "full_name" not in found and not {"first_name", "last_name"} <= set(found):
        raise Invalid(N_("The first line must name the columns, with at least full_name (or "
                         "first_name and last_name); this file has: %(found)s."),
                      found=", ".join(h.strip() for h in header) or "-")
    return found


def read_rows(text: str) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """The header's fields and the (line number, cells) of each non-blank line after it."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise Invalid(N_("The file is empty."))
    delimiter = max(";,\t", key=first.count) if any(c in first for c in ";,\t") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            line = start
            start = reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = cells
                continue
            rows.append((line, cells))
    except csv.Error as exc:
        raise Invalid(N_("Line %(line)s of the file cannot be read: %(reason)s"),
                      line=reader.line_num, reason=str(exc)) from None
    if header is None:
        raise Invalid(N_("The file is empty."))
    if len(rows) > MAX_LINES:
        raise Invalid(N_("The file has %(count)s lines; import at most %(maximum)s at a time."),
                      count=len(rows), maximum=MAX_LINES)
    return _roles_of(header), rows


@dataclass
class _Row:
    line: int
    full_name: str
    username: str | None
    pin: str | None


def _cell(cells: list[str], fields: dict[str, int], name: str) -> str:
    i = fields.get(name)
    return cells[i].strip() if i is not None and i < len(cells) else ""


def _check(s: Session, school: School, classroom: Classroom, fields: dict[str, int],
           rows: Iterable[tuple[int, list[str]]], report: ImportReport) -> list[_Row]:
    in_class = {sort_key(u.full_name): u for u in students_of(s, classroom,
                                                              include_inactive=True)}
    names_seen: dict[str, tuple[int, bool]] = {}
    usernames_seen: dict[str, int] = {}
    good: list[_Row] = []
    for line, cells in rows:
        try:
            if "full_name" in fields:
                full_name = _cell(cells, fields, "full_name")
            else:
                full_name = f"{_cell(cells, fields, 'first_name')} " \
                            f"{_cell(cells, fields, 'last_name')}"
            full_name = clean_full_name(full_name)
            username = _cell(cells, fields, "username") or None
            if username:
                username = check_username(username)
            pin = _cell(cells, fields, "pin") or None
            if pin:
                pin = check_pin(pin)
        except Invalid as exc:
            report.rejected.append(Rejected(line, exc.message, exc.params))
            continue
        reason: tuple[str, dict[str, Any]] | None = None
        key = sort_key(full_name)
        existing = in_class.get(key)
        if username and username in usernames_seen:
            reason = (N_("The username %(username)s is already on line %(other)s."),
                      {"username": username, "other": usernames_seen[username]})
        elif username and username_taken(s, school.id, username):
            reason = (N_("The username %(username)s is already used in this school."),
                      {"username": username})
        elif existing is not None and (not username or username == existing.username):
            reason = (N_("%(name)s is already in this class (username %(username)s)."),
                      {"name": full_name, "username": existing.username})
        elif key in names_seen and not (username and names_seen[key][1]):
            reason = (N_("Same name as line %(other)s: give each one a username to import "
                         "both."), {"other": names_seen[key][0]})
        if reason is not None:
            report.rejected.append(Rejected(line, reason[0], reason[1]))
            continue
        names_seen.setdefault(key, (line, bool(username)))
        if username:
            usernames_seen[username] = line
        good.append(_Row(line, full_name, username, pin))
    return good


def import_csv(s: Session, school: School, classroom: Classroom, data: bytes | str
               ) -> ImportReport:
    """Students of a class list, with their generated picture codes (or the given PINs).

    A file that cannot be read at all (encoding, no header, no name column) raises Invalid
    and imports nothing; otherwise bad lines are reported and the valid ones added in the
    caller's transaction (flushed, not committed).
    """
    if classroom.school_id != school.id:
        raise Invalid(N_("The class %(classroom)s belongs to another school."),
                      classroom=classroom.name)
    fields, rows = read_rows(decode(data))
    report = ImportReport()
    for row in _check(s, school, classroom, fields, rows, report):
        report.imported.append(create_user(s, school, Role.STUDENT, row.full_name,
                                           username=row.username, classroom=classroom,
                                           pin=row.pin))
    report.rejected.sort(key=lambda r: r.line)
    return report


def codes_csv(issued: Iterable[Issued], locale: str | None = None) -> str:
    """A CSV of the secrets just generated (to print or mail-merge); keep it private."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["full_name", "username", "kind", "code", "pictures"])
    for item in issued:
        labels = " ".join(translate(p.label, locale) for p in item.pictures)
        writer.writerow([item.user.full_name, item.user.username, item.kind, item.secret,
                         labels])
    return out.getvalue()
