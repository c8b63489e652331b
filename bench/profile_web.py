"""Where a request's time goes: the hub app called in-process as a WSGI application (no
server, no network), one signed-in student, N requests to one path; prints the CPU time
per request and the top functions by cumulative and by own time (cProfile).

With --instructions: the same loop counted in machine instructions per request under
valgrind's callgrind (only the loop is counted): unlike CPU time, the count does not move
with other work on the machine, so it tells a 3 % change from noise (`apt-get install
valgrind`; about a minute per path).

With --imports: what each layer of imports costs the web process in memory and start-up
time, each step in a fresh interpreter (--optimize: under -OO, as the systemd unit runs it),
and which optional heavy libraries the web process loads.

Usage: .venv/bin/python bench/profile_web.py [--path /student/] [-n 2000]
       .venv/bin/python bench/profile_web.py --instructions [--path /student/] [-n 200]
       .venv/bin/python bench/profile_web.py --imports [--optimize]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    ("+ the hub app, built (create_app)", "from hub.app import create_app; create_app()"),
    ("+ the command line and the server module (`python -m hub serve`)",
     "import hub.cli, hub.serve"),
]
# Libraries the web process has no use for at start (each is imported where it is used).
OPTIONAL_HEAVY = ("alembic", "mako", "pygments", "cryptography", "zstandard", "msgpack",
                  "zeroconf", "segno", "libzim", "PIL")

_PROBE = """
import json, sys, time
t0 = time.process_time()
{code}
cpu = time.process_time() - t0
rss = 0
for line in open('/proc/self/status'):
    if line.startswith('VmRSS:'):
        rss = int(line.split()[1])
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps([rss, cpu, heavy]))
"""


def import_costs(optimize: bool) -> None:
    env = {**os.environ, "ARDOISE_DATA_DIR": str(ardoise_setup.DATA)}
    if optimize:
        ardoise_setup.compile_optimized()
    flags = ["-OO"] if optimize else []
    done: list[str] = []
    previous = 0.0
    heavy: list[str] = []
    print(f"{'what is imported' + (' (python -OO)' if optimize else ''):72} "
          f"{'RSS MiB':>8} {'added':>7} {'CPU s':>6}")
    for label, code in IMPORT_STEPS:
        done.append(code)
        src = _PROBE.format(code="\n".join(done), heavy=OPTIONAL_HEAVY)
        out = subprocess.run([sys.executable, *flags, "-c", src], env=env,
                             capture_output=True, text=True, check=True).stdout
        rss_kib, cpu, heavy = json.loads(out)
        rss = rss_kib / 1024
        print(f"{label:72} {rss:8.1f} {rss - previous:+7.1f} {cpu:6.2f}")
        previous = rss
    print(f"optional heavy libraries loaded: {', '.join(heavy) or 'none'} "
          f"(of {', '.join(OPTIONAL_HEAVY)})")


def signed_in_caller(path: str, fresh: bool = True) -> Callable[[], bytes]:
    """The app, a student signed in, and a function making one GET of `path` as a WSGI
    call with that student's cookie (what waitress does, minus the socket)."""
    fixture = ardoise_setup.ensure(fresh=fresh)
    os.environ["ARDOISE_DATA_DIR"] = str(ardoise_setup.DATA)
    from hub.app import create_app
    from hub.serve import settle_memory

    app = create_app()
    settle_memory()  # as `serve` does: the app's objects frozen out of the collector's way
    client = app.test_client()
    token = client.get(ardoise_setup.SESSION_API).get_json()["csrf_token"]
    student = fixture.students[0]
    r = client.post(ardoise_setup.SESSION_API, json={"student_id": student["id"],
                                                     "code": student["code"]},
                    headers={"X-CSRFToken": token})
    assert r.status_code == 200, r.get_data(as_text=True)
    cookie = "; ".join(f"{c.key}={c.value}" for c in client._cookies.values())
    base = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000", "HTTP_COOKIE": cookie, "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False}
    statuses: list[str] = []

    def start_response(status: str, _headers: Any, _exc: Any = None) -> None:
        statuses.append(status)

    def call() -> bytes:
        body = b"".join(app({**base, "wsgi.input": io.BytesIO(b"")}, start_response))
        if not statuses.pop().startswith("200"):
            raise SystemExit(f"GET {path} did not answer 200")
        return body

    for _ in range(50):  # warm caches (SQLAlchemy statement cache, Jinja templates)
        call()
    return call


def instructions(path: str, n: int) -> None:
    """Re-run this script under callgrind, counting only the measured loop."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is missing: sudo apt-get install valgrind")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run([valgrind, "--tool=callgrind", "--toggle-collect=sys_call_tracing",
                        f"--callgrind-out-file={out}", sys.executable, *sys_flags(), __file__,
                        "--path", path, "-n", str(n), "--loop-only"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        total = next(int(line.split()[1]) for line in out.read_text().splitlines()
                     if line.startswith(("summary:", "totals:")))
    print(f"{path}: {total / n / 1e6:.3f} M instructions per request "
          f"(callgrind, {n} requests{', python -OO' if sys.flags.optimize >= 2 else ''})")


def sys_flags() -> list[str]:
    return ["-OO"] if sys.flags.optimize >= 2 else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default=ardoise_setup.ASSIGNMENTS_API)
    parser.add_argument("-n", type=int, default=0, help="requests (default 2000; 200 with "
                        "--instructions)")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--imports", action="store_true",
                        help="memory and CPU of each layer of imports instead")
    parser.add_argument("--optimize", action="store_true",
                        help="with --imports: run the probes under python -OO")
    parser.add_argument("--instructions", action="store_true",
                        help="instructions per request under callgrind instead")
    parser.add_argument("--loop-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.imports:
        ardoise_setup.ensure(fresh=False)
        import_costs(args.optimize)
        return
    if args.instructions:
        ardoise_setup.ensure()  # seeded here, once, outside the counted process
        instructions(args.path, args.n or 200)
        return
    if args.loop_only:  # under callgrind: only what runs inside sys.call_tracing counts
        call = signed_in_caller(args.path, fresh=False)

        def loop() -> None:
            for _ in range(args.n):
                call()

        sys.call_tracing(loop, ())
        return

    n = args.n or 2000
    before = rss_mib()
    call = signed_in_caller(args.path)
    print(f"RSS: {before:.1f} MiB before import, {rss_mib():.1f} MiB with the app built")
    best = []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n // 5):
            call()
        best.append(((time.perf_counter() - t0) / (n // 5), (time.process_time() - c0) / (n // 5)))
    wall, cpu = min(best, key=lambda x: x[1])
    print(f"{args.path}: {1000 * wall:.2f} ms wall, {1000 * cpu:.2f} ms CPU per request "
          f"(best of 5 rounds of {n // 5}), RSS {rss_mib():.1f} MiB")

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        call()
    prof.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(order).print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
