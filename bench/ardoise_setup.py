"""Ardoise's side: a data folder seeded with the same class as Kolibri's, through the
hub's own library functions (school, class, 30 students with generated picture codes, a
teacher, assignments published to the class), and the web process started with the
production command (`python -OO -m hub serve`, as the systemd unit runs it) or with another
WSGI server for comparison (also under -OO).

Run alone to prepare it: `.venv/bin/python bench/ardoise_setup.py` (re-seeds each time;
it starts from an empty data folder unless `--keep`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import HOST, ROOT, WORK, Client, Server, log

DATA = WORK / "ardoise-data"
CONFIG = WORK / "ardoise.toml"
FIXTURE = WORK / "ardoise-fixture.json"
PYLIB = WORK / "pylib"  # extra WSGI servers for the comparison, outside the project's venv
VENV_BIN = ROOT / ".venv" / "bin"
N_STUDENTS = 30

HOME_PATH = "/student/"
ASSIGNMENTS_API = "/api/v1/me/assignments"
SESSION_API = "/api/v1/session"

# Servers the comparison knows; "waitress" is the production command itself.
SERVERS: dict[str, str] = {
    "waitress": "waitress, 1 process x 8 threads (`python -OO -m hub serve`)",
    "gunicorn-1x8": "gunicorn gthread, 1 worker x 8 threads",
    "gunicorn-2x4": "gunicorn gthread, 2 workers x 4 threads",
    "cheroot": "cheroot (Kolibri's server), 1 process x 8 threads",
}
EXTRA_PACKAGES = ["gunicorn==23.0.0", "cheroot==10.0.1"]


def seed() -> None:
    """Create the data folder and seed it with the library functions of the hub."""
    from sqlalchemy.orm import Session

    from ardoise.db import make_engine
    from hub.classwork.assignments import create_assignment, set_status
    from hub.db import upgrade
    from hub.models import AssignmentStatus, Role
    from hub.people import create_classroom, create_school, create_user

    if DATA.exists():
        shutil.rmtree(DATA)
    DATA.mkdir(parents=True)
    CONFIG.write_text(f'data_dir = "{DATA}"\n')
    engine = make_engine(f"sqlite:///{DATA / 'ardoise.db'}")
    upgrade(engine)
    now = dt.datetime.now(dt.UTC)
    with Session(engine, expire_on_commit=False) as s:
        school = create_school(s, "École du Littoral", "littoral")
        classroom = create_classroom(s, school, "5e année", grade="5")
        teacher = create_user(s, school, Role.TEACHER, "Mme Roy", classroom=classroom)
        students = [create_user(s, school, Role.STUDENT, f"Élève {i:02d}", classroom=classroom)
                    for i in range(1, N_STUDENTS + 1)]
        s.commit()
        # Same shape as Kolibri's seed: five assignments for the class (there: 3 lessons and
        # 2 quizzes), four to do with due dates, one closed (in "Done").
        for n in range(4):
            create_assignment(s, teacher.user, classroom.id,
                              title=f"Leçon de la semaine {n + 1}",
                              instructions="Lire la leçon et répondre aux questions.",
                              due_at=now + dt.timedelta(days=n + 1),
                              status=AssignmentStatus.PUBLISHED)
        closed = create_assignment(s, teacher.user, classroom.id, title="Quiz 1",
                                   instructions="Répondre aux cinq questions.",
                                   status=AssignmentStatus.PUBLISHED)
        set_status(s, teacher.user, closed.id, AssignmentStatus.CLOSED)
        fixture = {
            "school_id": str(school.id), "classroom_id": str(classroom.id),
            "teacher": {"username": teacher.user.username, "password": teacher.secret},
            "students": [{"id": str(i.user.id), "username": i.user.username,
                          "code": i.secret} for i in students],
        }
    engine.dispose()
    FIXTURE.write_text(json.dumps(fixture, indent=2))


@dataclass
class ArdoiseFixture:
    students: list[dict[str, Any]]


_seeded_here = False


def ensure(fresh: bool = True) -> ArdoiseFixture:
    """Seed once per benchmark process (a few seconds), so every run starts from the same
    state and the current schema; `fresh=False` keeps an existing data folder."""
    global _seeded_here
    stale = fresh and not _seeded_here
    if stale or not FIXTURE.exists() or not (DATA / "ardoise.db").exists():
        log("seeding Ardoise: 1 class of 30 students, a teacher, 5 assignments")
        seed()
        _seeded_here = True
    return ArdoiseFixture(json.loads(FIXTURE.read_text())["students"])


def ensure_servers() -> None:
    """Install the other WSGI servers into bench/.work/pylib (not into the project)."""
    if all((PYLIB / name).exists() for name in ("gunicorn", "cheroot")):
        return
    log(f"installing {', '.join(EXTRA_PACKAGES)} into {PYLIB.relative_to(ROOT)}")
    subprocess.run([str(VENV_BIN / "python"), "-m", "pip", "install", "-q", "--target",
                    str(PYLIB), *EXTRA_PACKAGES], check=True)


PACKAGES = ("ardoise", "hub", "sync", "content_packs", "hardware")
_compiled = False


def compile_optimized() -> None:
    """-OO bytecode for the libraries and the project, as the image build compiles it: the
    servers run with -OO and write no bytecode, so without it every launch would compile
    from source. The standard library too when it is writable (else it is compiled on each
    launch: slower starts, same memory)."""
    global _compiled
    if _compiled:
        return
    py = str(VENV_BIN / "python")
    paths = [sysconfig.get_paths(vars={"base": str(ROOT / ".venv")})["purelib"],
             *(str(ROOT / p) for p in PACKAGES)]
    stdlib = sysconfig.get_paths()["stdlib"]
    if os.access(stdlib, os.W_OK):
        paths.append(stdlib)
    log("compiling -OO bytecode (once; quick when up to date)")
    subprocess.run([py, "-OO", "-m", "compileall", "-q", "-j0", *paths],
                   stdout=subprocess.DEVNULL, check=False)
    _compiled = True


def server(port: int, kind: str = "waitress") -> Server:
    """The hub's web process on `port`, with the named WSGI server, run with -OO as the
    systemd unit runs it (image_builder/files/ardoise-web.service)."""
    compile_optimized()
    env = {"ARDOISE_CONFIG": str(CONFIG), "PYTHONDONTWRITEBYTECODE": "1"}
    py = str(VENV_BIN / "python")
    if kind == "waitress":
        argv = [py, "-OO", "-m", "hub", "--config", str(CONFIG), "serve", "--host", HOST,
                "--port", str(port)]
        return Server("ardoise-waitress", argv, port, env=env)
    ensure_servers()
    env["PYTHONPATH"] = f"{PYLIB}:{ROOT}"
    # The same malloc tuning `ardoise serve` applies in-process (hub.serve.tune_malloc).
    env["MALLOC_ARENA_MAX"] = "1"
    env["MALLOC_MMAP_THRESHOLD_"] = str(128 * 1024)
    env["ARDOISE_DATA_DIR"] = str(DATA)
    if kind.startswith("gunicorn-"):
        workers, threads = kind.removeprefix("gunicorn-").split("x")
        argv = [py, "-OO", "-m", "gunicorn", "--worker-class", "gthread", "--workers", workers,
                "--threads", threads, "--bind", f"{HOST}:{port}", "--keep-alive", "5",
                "--preload", "--log-level", "warning", "hub.app:create_app()"]
    elif kind == "cheroot":
        argv = [py, "-OO", str(Path(__file__).with_name("serve_cheroot.py")), str(port), "8"]
    else:
        raise SystemExit(f"unknown server {kind}: choose from {', '.join(SERVERS)}")
    env.pop("ARDOISE_CONFIG")
    # gunicorn's SIGTERM waits up to 30 s for kept-alive connections; SIGINT stops at once.
    stop = signal.SIGINT if kind.startswith("gunicorn-") else signal.SIGTERM
    return Server(f"ardoise-{kind}", argv, port, env=env, stop_signal=stop)


def session_start(client: Client) -> str:
    """What the sign-in page does first: GET the session, which gives the CSRF token."""
    r = client.get(SESSION_API)
    if r.status != 200:
        raise RuntimeError(f"GET {SESSION_API}: {r.status} {r.body[:300]!r}")
    return str(r.json()["csrf_token"])


def sign_in(client: Client, student: dict[str, Any], csrf: str) -> int:
    r = client.post_json(SESSION_API, {"student_id": student["id"], "code": student["code"]},
                         headers={"X-CSRFToken": csrf,
                                  "Referer": f"http://{HOST}:{client.port}/"})
    return r.status


def check_signed_in(client: Client) -> None:
    r = client.get(ASSIGNMENTS_API)
    data = r.json() if r.status == 200 else None
    if not data or len(data.get("todo", [])) != 4 or len(data.get("done", [])) != 1:
        raise RuntimeError(f"{ASSIGNMENTS_API} is not what the seed made: {r.status} "
                           f"{r.body[:300]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep an existing data folder")
    args = parser.parse_args()
    fixture = ensure(fresh=not args.keep)
    print(f"Ardoise ready in {DATA}: {len(fixture.students)} students")


if __name__ == "__main__":
    main()
