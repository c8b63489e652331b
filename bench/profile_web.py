"""Where a request's time goes: the hub app called in-process (no server, no network),
one signed-in student, N requests to one path; prints the mean CPU time per request and
the top functions by cumulative time (cProfile), and the memory the app holds.
With --imports: what each layer of imports costs the web process in memory and start-up
time, each step measured in a fresh interpreter.

Usage: .venv/bin/python bench/profile_web.py [--path /api/v1/me/assignments] [-n 2000]
       .venv/bin/python bench/profile_web.py --imports
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import ardoise_setup


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# Cumulative layers: each step imports everything above it too.
IMPORT_STEPS: list[tuple[str, str]] = [
    ("Python alone", "pass"),
    ("web stack: Flask, SQLAlchemy ORM, Flask-Babel, Flask-WTF, argon2, waitress",
     "import flask, sqlalchemy.orm, flask_babel, flask_wtf.csrf, argon2, waitress, sqlite3"),
    ("+ alembic (migrations: mako, pygments)", "import alembic.command"),
    ("+ sync", "import sync"),
    ("+ content_packs", "import content_packs"),
    ("+ hardware (zeroconf, segno, agent)", "import hardware"),
    ("+ the hub app, built (create_app)", "from hub.app import create_app; create_app()"),
    ("+ the whole CLI (what `ardoise serve` holds)", "import hub.cli"),
]

_PROBE = """
import time
t0 = time.process_time()
{code}
cpu = time.process_time() - t0
rss = 0
for line in open('/proc/self/status'):
    if line.startswith('VmRSS:'):
        rss = int(line.split()[1])
print(rss, cpu)
"""


def import_costs() -> None:
    env = {**os.environ, "ARDOISE_DATA_DIR": str(ardoise_setup.DATA)}
    done: list[str] = []
    previous = 0.0
    print(f"{'what is imported':78} {'RSS MiB':>8} {'added':>7} {'CPU s':>6}")
    for label, code in IMPORT_STEPS:
        done.append(code)
        src = _PROBE.format(code="\n".join(done))
        out = subprocess.run([sys.executable, "-c", src], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        rss, cpu = int(out[0]) / 1024, float(out[1])
        print(f"{label:78} {rss:8.1f} {rss - previous:+7.1f} {cpu:6.2f}")
        previous = rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default=ardoise_setup.ASSIGNMENTS_API)
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--imports", action="store_true",
                        help="memory and CPU of each layer of imports instead")
    args = parser.parse_args()
    if args.imports:
        ardoise_setup.ensure(fresh=False)
        import_costs()
        return

    fixture = ardoise_setup.ensure()
    os.environ["ARDOISE_DATA_DIR"] = str(ardoise_setup.DATA)
    before = rss_mib()
    from hub.app import create_app

    app = create_app()
    print(f"RSS: {before:.1f} MiB before import, {rss_mib():.1f} MiB with the app built")
    client = app.test_client()
    token = client.get(ardoise_setup.SESSION_API).get_json()["csrf_token"]
    student = fixture.students[0]
    r = client.post(ardoise_setup.SESSION_API, json={"student_id": student["id"],
                                                     "code": student["code"]},
                    headers={"X-CSRFToken": token})
    assert r.status_code == 200, r.get_data(as_text=True)
    for _ in range(50):  # warm caches (SQLAlchemy statement cache, Jinja templates)
        assert client.get(args.path).status_code == 200

    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.n):
        client.get(args.path)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{args.path}: {1000 * wall / args.n:.2f} ms wall, {1000 * cpu / args.n:.2f} ms CPU "
          f"per request (test client included), RSS {rss_mib():.1f} MiB")

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.n):
        client.get(args.path)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(args.top)
    print(out.getvalue())
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
