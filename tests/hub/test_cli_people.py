"""`ardoise school|class|user ...` against a throwaway data folder."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.db import make_engine
from hub.auth import verify_code, verify_password
from hub.cli import main
from hub.models import User

Run = Callable[..., Result]


@pytest.fixture
def config(tmp_path: Path, data_dir: Path) -> Path:
    path = tmp_path / "ardoise.toml"
    path.write_text(f'data_dir = "{data_dir}"\n')
    return path


@pytest.fixture
def cli(config: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("ARDOISE_LANGUAGE", "en")

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, ["--config", str(config), *args])
    return run


def _user(data_dir: Path, username: str) -> User:
    engine = make_engine(f"sqlite:///{data_dir / 'ardoise.db'}")
    try:
        with Session(engine) as s:
            user = s.scalar(select(User).where(User.username == username))
            assert user is not None
            s.expunge(user)
            return user
    finally:
        engine.dispose()


def _setup(cli: Run) -> None:
    assert cli("school", "add", "École du Littoral", "--code", "littoral").exit_code == 0
    assert cli("class", "add", "5e année", "--school", "littoral", "--grade", "5").exit_code == 0


def test_school_and_class(cli: Run) -> None:
    _setup(cli)
    r = cli("school", "list")
    assert r.output == "littoral\tÉcole du Littoral\n"
    r = cli("class", "list")
    assert r.output == "littoral\t5e année\t5\t0\n"
    r = cli("school", "add", "Autre", "--code", "littoral")
    assert r.exit_code == 1 and "already exists" in r.output and "Traceback" not in r.output
    r = cli("class", "add", "6e", "--school", "nowhere")
    assert r.exit_code == 1 and "no school with the code nowhere" in r.output


def test_user_add_prints_the_secret_once(cli: Run, data_dir: Path) -> None:
    _setup(cli)
    r = cli("user", "add", "--school", "littoral", "--role", "teacher",
            "--name", "Élodie Côté", "--class", "5e année")
    assert r.exit_code == 0, r.output
    password = re.search(r"Password: (\S+)", r.output).group(1)  # type: ignore[union-attr]
    assert "elodie.cote" in r.output and "shown only this once" in r.output
    assert verify_password(_user(data_dir, "elodie.cote").password_hash, password)[0]
    r = cli("user", "add", "--school", "littoral", "--role", "student",
            "--name", "Léa Gagnon", "--class", "5e année")
    code = re.search(r"Picture code: (\S+) \(", r.output).group(1)  # type: ignore[union-attr]
    assert verify_code(_user(data_dir, "lea.gagnon").picture_code_hash, code)[0]
    r = cli("user", "list", "--role", "student")
    assert r.output.splitlines() == ["littoral\tlea.gagnon\tstudent\tLéa Gagnon\t5e année"]
    r = cli("user", "list", "--class", "5e année")
    assert len(r.output.splitlines()) == 2
    r = cli("user", "add", "--school", "littoral", "--role", "student", "--name", "X",
            "--class", "9e")
    assert r.exit_code == 1 and "no class named 9e" in r.output


def test_messages_in_french(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARDOISE_LANGUAGE", "fr_CA")
    _setup(cli)
    r = cli("user", "add", "--school", "littoral", "--role", "student", "--name", "Léa Roy")
    assert "Code en images" in r.output and "une seule fois" in r.output


def test_reset_password_and_code(cli: Run, data_dir: Path) -> None:
    _setup(cli)
    cli("user", "add", "--school", "littoral", "--role", "admin", "--name", "Tech Nicien")
    cli("user", "add", "--school", "littoral", "--role", "student", "--name", "Léa Roy")
    r = cli("user", "reset-password", "tech.nicien", "--school", "littoral")
    password = re.search(r"Password: (\S+)", r.output).group(1)  # type: ignore[union-attr]
    user = _user(data_dir, "tech.nicien")
    assert verify_password(user.password_hash, password)[0] and user.auth_epoch == 1
    r = cli("user", "reset-password", "lea.roy")  # one school: --school may be left out
    code = re.search(r"Picture code: (\S+)", r.output).group(1)  # type: ignore[union-attr]
    assert verify_code(_user(data_dir, "lea.roy").picture_code_hash, code)[0]
    r = cli("user", "reset-password", "nobody")
    assert r.exit_code == 1 and "no user nobody" in r.output


def test_import_csv_with_codes_out(cli: Run, tmp_path: Path, data_dir: Path) -> None:
    _setup(cli)
    src = tmp_path / "classe.csv"
    src.write_bytes("\ufeffnom_complet;nip\nJean Roy;1234\nÉlodie Côté;\n;x\nMarie Roy;12a\n"
                    .encode())
    out = tmp_path / "codes.csv"
    r = cli("user", "import-csv", str(src), "--school", "littoral", "--class", "5e année",
            "--codes-out", str(out))
    assert r.exit_code == 0, r.output
    assert "2 students imported into 5e année" in r.output
    assert "2 lines left out" in r.output
    assert "line 4: The name is missing" in r.output and "line 5:" in r.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    rows = out.read_text().splitlines()
    assert rows[0] == "full_name,username,kind,code,pictures"
    elodie = next(row for row in rows if row.startswith("Élodie")).split(",")
    assert verify_code(_user(data_dir, "elodie.cote").picture_code_hash, elodie[3])[0]
    assert "Jean Roy,jean.roy,pin,1234," in rows
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_import_csv_prints_codes_without_codes_out(cli: Run, tmp_path: Path) -> None:
    _setup(cli)
    src = tmp_path / "classe.csv"
    src.write_text("full_name\nNoah Roy\n")
    r = cli("user", "import-csv", str(src), "--school", "littoral", "--class", "5e année")
    assert re.search(r"noah\.roy\tNoah Roy\t\w+-\w+-\w+-\w+\t\(", r.output)


def test_import_unreadable_file_imports_nothing(cli: Run, tmp_path: Path) -> None:
    _setup(cli)
    src = tmp_path / "classe.csv"
    src.write_text("pin\n1234\n")
    r = cli("user", "import-csv", str(src), "--school", "littoral", "--class", "5e année",
            "--codes-out", str(tmp_path / "nowhere" / "codes.csv"))
    assert r.exit_code == 1 and "does not exist" in r.output
    r = cli("user", "import-csv", str(src), "--school", "littoral", "--class", "5e année")
    assert r.exit_code == 1 and "full_name" in r.output
    assert cli("user", "list").output == ""


def test_enroll_and_deactivate(cli: Run, data_dir: Path) -> None:
    _setup(cli)
    cli("class", "add", "6e année", "--school", "littoral")
    cli("user", "add", "--school", "littoral", "--role", "student", "--name", "Léa Roy")
    r = cli("class", "enroll", "6e année", "lea.roy")
    assert r.exit_code == 0, r.output
    assert "6e année" in cli("user", "list").output
    r = cli("user", "deactivate", "lea.roy")
    assert r.exit_code == 0 and not _user(data_dir, "lea.roy").active
    assert cli("user", "list").output.rstrip().endswith("deactivated")


def test_set_password_checks_the_rule(cli: Run, data_dir: Path) -> None:
    _setup(cli)
    cli("user", "add", "--school", "littoral", "--role", "teacher", "--name", "Mme Roy")
    r = cli("user", "set-password", "mme.roy", "--password", "court")
    assert r.exit_code == 1 and "at least 10" in r.output
    r = cli("user", "set-password", "mme.roy", "--password", "une craie verte")
    assert r.exit_code == 0
    assert verify_password(_user(data_dir, "mme.roy").password_hash, "une craie verte")[0]
