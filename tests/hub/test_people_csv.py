"""Importing a class list: encodings, separators, validation of every line, one report."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ardoise.errors import Invalid
from hub import people
from hub.auth import verify_code
from hub.db import database
from hub.models import Classroom, User


@pytest.fixture
def s(app: Flask) -> Iterator[Session]:
    with database(app).sessions() as session:
        yield session


@pytest.fixture
def room(s: Session) -> Classroom:
    school = people.create_school(s, "École du Nord", "nord")
    room = people.create_classroom(s, school, "4e année")
    s.commit()
    return room


def _import(s: Session, room: Classroom, data: bytes | str) -> people.ImportReport:
    return people.import_csv(s, room.school, room, data)


def _count(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(User)) or 0


def test_valid_file_imports_everyone_with_codes(s: Session, room: Classroom) -> None:
    report = _import(s, room, "full_name,username,pin\nÉlodie Côté,,\nNoah Roy,noah,\n"
                              "Léa Gagnon,,2468\n")
    s.commit()
    assert report.rejected == []
    got = {i.user.full_name: i for i in report.imported}
    assert got["Élodie Côté"].user.username == "elodie.cote"
    assert got["Noah Roy"].user.username == "noah"
    assert got["Léa Gagnon"].kind == "pin" and got["Léa Gagnon"].secret == "2468"
    elodie = got["Élodie Côté"]
    assert elodie.kind == "picture"
    assert verify_code(elodie.user.picture_code_hash, elodie.secret)[0]
    assert {u.full_name for u in people.students_of(s, room)} == set(got)


def test_excel_french_file_with_bom_and_semicolons(s: Session, room: Classroom) -> None:
    data = "\ufeffPrénom;Nom;NIP\r\nÉlodie;Côté;1234\r\nJean;Tremblay;\r\n".encode()
    report = _import(s, room, data)
    assert report.rejected == []
    assert [i.user.full_name for i in report.imported] == ["Élodie Côté", "Jean Tremblay"]
    assert report.imported[0].secret == "1234"


def test_windows_1252_file_is_read(s: Session, room: Classroom) -> None:
    report = _import(s, room, "nom_complet\nFrançois Bélanger\n".encode("cp1252"))
    assert [i.user.full_name for i in report.imported] == ["François Bélanger"]
    assert report.imported[0].user.username == "francois.belanger"


def test_bad_lines_are_reported_and_good_ones_imported(s: Session, room: Classroom) -> None:
    data = ("full_name;username;pin\n"
            "Élodie Côté;;\n"          # 2 ok
            ";;\n"                     # 3 blank: skipped, not an error
            ";eleve;\n"                # 4 missing name
            "Marc Roy;;12a4\n"         # 5 bad PIN
            "Élodie Côté;;\n"          # 6 same name as line 2, no username
            "Zoé Roy;zoe;\n"           # 7 ok
            "Zoé Rioux;zoe;\n"         # 8 username already on line 7
            "Ana Paz;Ana Paz!;\n")     # 9 bad username
    report = _import(s, room, data)
    assert [i.user.full_name for i in report.imported] == ["Élodie Côté", "Zoé Roy"]
    reasons = {r.line: r.render("en") for r in report.rejected}
    assert sorted(reasons) == [4, 5, 6, 8, 9]
    assert "name is missing" in reasons[4]
    assert "PIN" in reasons[5]
    assert "line 2" in reasons[6]
    assert "line 7" in reasons[8]
    assert "not valid" in reasons[9]
    assert "ligne 2" in report.rejected[2].render("fr_CA")


def test_reimporting_the_same_list_adds_nobody(s: Session, room: Classroom) -> None:
    data = "full_name,username\nÉlodie Côté,\nNoah Roy,noah\n"
    _import(s, room, data)
    s.commit()
    before = _count(s)
    report = _import(s, room, data)
    assert report.imported == []
    reasons = [r.render("en") for r in report.rejected]
    assert "already in this class" in reasons[0]
    assert "already used" in reasons[1]
    assert _count(s) == before


def test_same_name_with_distinct_usernames_is_fine(s: Session, room: Classroom) -> None:
    report = _import(s, room, "full_name,username\nAlex Martin,alex.m1\nAlex Martin,alex.m2\n")
    assert len(report.imported) == 2 and report.rejected == []


@pytest.mark.parametrize(("data", "needle"), [
    (b"", "empty"),
    (b"\n\n", "empty"),
    (b"username,pin\nnoah,1234\n", "full_name"),
    (b"\xff\xfe\x00\x81\x8d\x8f", "CSV UTF-8"),
])
def test_unreadable_files_import_nothing(s: Session, room: Classroom, data: bytes,
                                         needle: str) -> None:
    before = _count(s)
    with pytest.raises(Invalid) as err:
        _import(s, room, data)
    assert needle in err.value.render("en")
    s.rollback()
    assert _count(s) == before


def test_class_of_another_school_is_refused(s: Session, room: Classroom) -> None:
    other = people.create_school(s, "Autre", "autre")
    with pytest.raises(Invalid):
        people.import_csv(s, other, room, "full_name\nA B\n")


def test_codes_csv(s: Session, room: Classroom) -> None:
    report = _import(s, room, "full_name,pin\nÉlodie Côté,\nNoah Roy,9876\n")
    text = people.codes_csv(report.imported, "fr_CA")
    lines = text.splitlines()
    assert lines[0] == "full_name,username,kind,code,pictures"
    assert lines[2] == "Noah Roy,noah.roy,pin,9876,"
    elodie = report.imported[0]
    assert lines[1].startswith(f"Élodie Côté,elodie.cote,picture,{elodie.secret},")
