"""The central on PostgreSQL absorbing many hubs syncing at once.

Two central processes (`ardoise serve`, waitress) on one PostgreSQL schema made for the
run (dropped at the end); N simulated hubs (SQLite files in this process, one school
each) enroll, pull their school, then each records `--rows` progress events and all sync
at the same moment. Prints rounds per second, rows per second and latency percentiles.

    .venv/bin/python bench/sync_central_pg.py [--hubs 200] [--rows 50]
      [--url postgresql+psycopg:///ardoise_test?host=/var/run/postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from ardoise.db import make_engine
from hub.central import fleet
from hub.db import upgrade
from hub.models import Classroom, Enrollment, ProgressEvent, ProgressKind, Role, School, User
from hub.sync_registry import install_capture, registry
from sync import hubside

ARDOISE = str(Path(sys.executable).with_name("ardoise"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_central(url: str, data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARDOISE_")}
    env.update(ARDOISE_ROLE="central", ARDOISE_DATA_DIR=str(data), ARDOISE_DATABASE_URL=url,
               ARDOISE_SECRET_KEY="bench-only", ARDOISE_THREADS="8")
    proc = subprocess.Popen([ARDOISE, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the central did not start")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))] * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hubs", type=int, default=200)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--url", default=os.environ.get(
        "ARDOISE_TEST_POSTGRES_URL",
        "postgresql+psycopg:///ardoise_test?host=/var/run/postgresql"))
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = args.url + ("&" if "?" in args.url else "?") + f"options=-csearch_path%3D{schema}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        central = make_engine(url, pool_size=10)
        upgrade(central)
        sessions = sessionmaker(central, expire_on_commit=False)
        install_capture(sessions)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            template = root / "template.db"
            t_engine = make_engine(f"sqlite:///{template}")
            upgrade(t_engine)
            t_engine.dispose()
            ports = [free_port(), free_port()]
            for i, port in enumerate(ports):
                (root / f"central{i}").mkdir()
                procs.append(start_central(url, root / f"central{i}", port))
            schools = []
            with sessions() as s:
                for i in range(args.hubs):
                    school = School(name=f"École {i}", code=f"ecole-{i}")
                    s.add(school)
                    s.flush()
                    teacher = User(school_id=school.id, role=Role.TEACHER,
                                   username="prof", full_name="Prof")
                    room = Classroom(school_id=school.id, name="Classe")
                    kids = [User(school_id=school.id, role=Role.STUDENT, username=f"e{k}",
                                 full_name=f"Élève {k}") for k in range(10)]
                    s.add_all([teacher, room, *kids])
                    s.flush()
                    s.add_all([Enrollment(school_id=school.id, classroom_id=room.id,
                                          user_id=u.id, role=u.role) for u in [teacher, *kids]])
                    schools.append((school.id, room.id, [k.id for k in kids],
                                    fleet.create_token(s, school.id)))
                s.commit()
            hubs: list[tuple[Path, Any, Any]] = []

            def setup(i: int) -> tuple[Path, Any, Any]:
                d = root / f"hub{i}"
                d.mkdir()
                shutil.copy(template, d / "ardoise.db")
                engine = make_engine(f"sqlite:///{d / 'ardoise.db'}")
                hs = sessionmaker(engine, expire_on_commit=False)
                install_capture(hs)
                hubside.enroll(engine, d, f"http://127.0.0.1:{ports[i % 2]}", schools[i][3])
                hubside.sync_now(engine, registry(), d)
                return d, engine, hs

            t0 = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                hubs = list(pool.map(setup, range(args.hubs)))
            setup_s = time.monotonic() - t0
            for i, (_d, _e, hs) in enumerate(hubs):
                school_id, room_id, kids, _t = schools[i]
                with hs() as s:
                    s.add_all([ProgressEvent(school_id=school_id, classroom_id=room_id,
                                             user_id=kids[j % len(kids)],
                                             resource_uid=f"r/{i}/{j}",
                                             kind=ProgressKind.FINISHED)
                               for j in range(args.rows)])
                    s.commit()

            def one(i: int) -> tuple[float, int]:
                d, engine, _hs = hubs[i]
                t = time.monotonic()
                stats = hubside.sync_now(engine, registry(), d)
                return time.monotonic() - t, stats.pushed_rows

            t0 = time.monotonic()
            with ThreadPoolExecutor(args.hubs) as pool:
                results = list(pool.map(one, range(args.hubs)))
            wall = time.monotonic() - t0
            with sessions() as s:
                arrived = s.scalar(select(func.count()).select_from(ProgressEvent))
            for _d, engine, _hs in hubs:
                engine.dispose()
        latencies = [r[0] for r in results]
        rows = sum(r[1] for r in results)
        print(json.dumps({
            "hubs": args.hubs, "central_processes": 2, "rows_per_hub": args.rows,
            "setup_seconds (enroll + first pull, 16 at a time)": round(setup_s, 1),
            "wall_seconds (all hubs at once)": round(wall, 2),
            "rounds_per_second": round(args.hubs / wall, 1),
            "rows_per_second": round(rows / wall, 1),
            "latency_ms": {"p50": pct(latencies, 0.5), "p95": pct(latencies, 0.95),
                           "max": pct(latencies, 1.0)},
            "rows_at_central": arrived, "rows_expected": args.hubs * args.rows,
        }, indent=2))
        central.dispose()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(10)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
