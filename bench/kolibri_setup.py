"""Kolibri 0.19.5, the point of comparison: installed in its own virtualenv, provisioned
non-interactively and seeded with the same class as Ardoise (30 learners, lessons and
quizzes), then run the way Kolibri runs in production: `kolibri start --foreground`, its
own cheroot server (thread pool sized by Kolibri from the machine's memory).

Run alone to prepare it: `.venv/bin/python bench/kolibri_setup.py` (idempotent; `--fresh`
starts from an empty KOLIBRI_HOME). Kolibri listens on 127.0.0.1 only, and its telemetry
ping, zeroconf discovery and remote content sources are turned off: no traffic leaves
the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH, HOST, WORK, Client, Server, log

KOLIBRI_VERSION = "0.19.5"
VENV = WORK / "kolibri-venv"
HOME = WORK / "kolibri-home"
FIXTURE = WORK / "kolibri-fixture.json"
N_LEARNERS = 30
# Kolibri's learner home page and the API it loads for the learner's assignments.
HOME_PATH = "/fr-fr/learn/#/home"
CLASSROOM_API = "/learn/api/learnerclassroom/"
SIGNIN_PATH = "/fr-fr/auth/"


def kolibri_env(port: int | None = None) -> dict[str, str]:
    env = {
        "KOLIBRI_HOME": str(HOME),
        "KOLIBRI_LISTEN_ADDRESS": HOST,
        "KOLIBRI_DISABLE_PING": "true",
        "KOLIBRI_ZEROCONF_ENABLED": "false",
        "KOLIBRI_RUN_MODE": "benchmark",
        "KOLIBRI_CENTRAL_CONTENT_BASE_URL": "http://127.0.0.1:9",
        "KOLIBRI_DATA_PORTAL_SYNCING_BASE_URL": "http://127.0.0.1:9",
        "PYTHONWARNINGS": "ignore",
    }
    if port is not None:
        env["KOLIBRI_HTTP_PORT"] = str(port)
    return env


def _kolibri(*args: str, extra_env: dict[str, str] | None = None) -> None:
    cmd = [str(VENV / "bin" / "kolibri"), *args]
    env = {**os.environ, **kolibri_env(), **(extra_env or {})}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                         timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"`kolibri {' '.join(args)}` failed:\n{out.stdout[-3000:]}\n"
                         f"{out.stderr[-3000:]}")


def install() -> None:
    if (VENV / "bin" / "kolibri").exists():
        return
    log(f"installing kolibri=={KOLIBRI_VERSION} into {VENV.relative_to(WORK.parent.parent)}")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", f"kolibri=={KOLIBRI_VERSION}"],
                   check=True)


def provision_and_seed() -> None:
    if FIXTURE.exists():
        return
    if HOME.exists():
        shutil.rmtree(HOME)
    HOME.mkdir(parents=True)
    admin_password = secrets.token_urlsafe(12)
    log("provisioning the Kolibri facility")
    _kolibri("manage", "provisiondevice", "--", "--facility", "École du Littoral",
             "--superusername", "admin", "--superuserpassword", admin_password,
             "--preset", "formal", "--language_id", "fr-fr", "--noinput")
    seed_in = WORK / "kolibri-seed-in.json"
    seed_out = WORK / "kolibri-seed-out.json"
    # Passwords as a teacher would hand out: short, one per learner, generated.
    seed_in.write_text(json.dumps({
        "coach_password": secrets.token_urlsafe(12),
        "learner_passwords": [secrets.token_hex(4) for _ in range(N_LEARNERS)],
    }))
    log("seeding 1 class of 30 learners, a local channel, 3 lessons and 2 quizzes")
    script = BENCH / "kolibri_seed.py"
    _kolibri("manage", "shell", "--", "-c",
             f"exec(compile(open({str(script)!r}).read(), {str(script)!r}, 'exec'))",
             extra_env={"BENCH_SEED_IN": str(seed_in), "BENCH_SEED_OUT": str(seed_out)})
    data = json.loads(seed_out.read_text())
    data["admin"] = {"username": "admin", "password": admin_password}
    FIXTURE.write_text(json.dumps(data, indent=2))
    seed_in.unlink()
    seed_out.unlink()


@dataclass
class KolibriFixture:
    facility_id: str
    learners: list[dict[str, Any]]


def ensure(fresh: bool = False) -> KolibriFixture:
    if fresh:
        FIXTURE.unlink(missing_ok=True)
    install()
    provision_and_seed()
    data = json.loads(FIXTURE.read_text())
    return KolibriFixture(data["facility_id"], data["learners"])


def server(port: int) -> Server:
    """Kolibri as deployed: `kolibri start --foreground` (cheroot, Kolibri's own options)."""
    return Server("kolibri", [str(VENV / "bin" / "kolibri"), "start", "--foreground",
                              "--port", str(port)], port, env=kolibri_env(port))


def session_start(client: Client) -> str:
    """Open Kolibri's sign-in page, which sets the CSRF cookie the sign-in call needs."""
    r = client.get(SIGNIN_PATH)
    if r.status != 200:
        raise RuntimeError(f"Kolibri session: {r.status} {r.body[:200]!r}")
    return client.cookies.get("csrftoken", "")


def sign_in(client: Client, fixture: KolibriFixture, learner: dict[str, Any],
            csrf: str) -> int:
    r = client.post_json("/api/auth/session/", {
        "username": learner["username"], "password": learner["password"],
        "facility": fixture.facility_id}, headers={"X-CSRFToken": csrf,
                                                   "Referer": f"http://{HOST}:{client.port}/"})
    return r.status


def check_signed_in(client: Client) -> None:
    r = client.get(CLASSROOM_API)
    data = r.json() if r.status == 200 else None
    if not data or not data[0].get("lessons") or not data[0].get("exams"):
        raise RuntimeError(f"Kolibri learnerclassroom is not what the seed made: {r.status} "
                           f"{r.body[:300]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fresh", action="store_true", help="re-provision from scratch")
    args = parser.parse_args()
    fixture = ensure(args.fresh)
    print(f"Kolibri {KOLIBRI_VERSION} ready in {HOME}: facility {fixture.facility_id}, "
          f"{len(fixture.learners)} learners")


if __name__ == "__main__":
    main()
