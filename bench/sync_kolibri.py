"""Kolibri 0.19.5's own sync (`kolibri manage sync`, Morango) through the same emulated
link as `bench/sync_link.py`, for the figures side by side.

A copy of the seeded Kolibri of the web benchmarks (bench/kolibri_setup.py) serves as the
server; a second, empty Kolibri pulls the facility once (directly, not measured); then each
side records the same number of learner logs (ContentSessionLog, saved one by one so that
Morango sees them) and the client syncs through the emulator (256 kbit/s, 600 ms). Counted:
HTTP requests, bytes on the wire, seconds of the command and seconds the link was busy.

    .venv/bin/python bench/sync_kolibri.py [--records 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port
from bench.kolibri_setup import FIXTURE, HOME, VENV, ensure, kolibri_env
from tests.sync.linkemu import LinkEmulator

KOLIBRI = str(VENV / "bin" / "kolibri")
SEED = """
import uuid
from django.db import transaction
from django.utils import timezone
from kolibri.core.auth.models import FacilityUser
from kolibri.core.logger.models import ContentSessionLog
users = list(FacilityUser.objects.filter(username__startswith="eleve"))
now = timezone.now()
with transaction.atomic():
    for i in range({n}):
        ContentSessionLog(user=users[i % len(users)], content_id=uuid.uuid4().hex,
                          channel_id=uuid.uuid4().hex, kind="video", start_timestamp=now,
                          end_timestamp=now, time_spent=12.5, progress=0.5).save()
print(ContentSessionLog.objects.count())
"""


def env(home: Path, port: int | None = None) -> dict[str, str]:
    return {**os.environ, **kolibri_env(port), "KOLIBRI_HOME": str(home)}


def manage(home: Path, *args: str, timeout: float = 1800) -> tuple[float, str]:
    t0 = time.monotonic()
    out = subprocess.run([KOLIBRI, "manage", *args], env=env(home), capture_output=True,
                         text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise SystemExit(f"kolibri manage {args[0]} failed:\n{out.stdout[-2000:]}\n"
                         f"{out.stderr[-2000:]}")
    return time.monotonic() - t0, out.stdout


def sync_args(url: str, fixture: dict[str, Any]) -> list[str]:
    return ["sync", "--", "--baseurl", url, "--facility", fixture["facility_id"],
            "--username", fixture["admin"]["username"], "--password",
            fixture["admin"]["password"], "--noninteractive"]


def measured(link: LinkEmulator, home: Path, fixture: dict[str, Any]) -> dict[str, Any]:
    r0, b0 = link.up.requests, link.total_bytes
    link.up.first_at = link.down.first_at = None
    seconds, _ = manage(home, *sync_args(link.url, fixture))
    firsts = [t for t in (link.up.first_at, link.down.first_at) if t is not None]
    lasts = [t for t in (link.up.last_at, link.down.last_at) if t is not None]
    return {"requests": link.up.requests - r0, "bytes_on_wire": link.total_bytes - b0,
            "seconds_command": round(seconds, 1),
            "seconds_link_busy": round(max(lasts) - min(firsts), 1) if firsts else 0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1000)
    args = parser.parse_args()
    ensure()
    fixture = json.loads(FIXTURE.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        server_home, client_home = Path(tmp) / "server", Path(tmp) / "client"
        shutil.copytree(HOME, server_home, ignore=shutil.ignore_patterns("*.pid", "*.lock",
                                                                           "logs"))
        port = free_port()
        server = subprocess.Popen([KOLIBRI, "start", "--foreground", "--port", str(port)],
                                  env=env(server_home, port), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        link = None
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/public/info/",
                                           timeout=2)
                    break
                except OSError:
                    time.sleep(0.5)
            client_home.mkdir()
            first, _ = manage(client_home, *sync_args(f"http://127.0.0.1:{port}", fixture))
            manage(server_home, "shell", "--", "-c", SEED.format(n=args.records))
            manage(client_home, "shell", "--", "-c", SEED.format(n=args.records))
            link = LinkEmulator(port, rate_bps=256_000, rtt=0.6)
            results = {
                "first full sync (direct, not on the link)": round(first, 1),
                f"{args.records} records each way": measured(link, client_home, fixture),
                "nothing to move": measured(link, client_home, fixture),
            }
        finally:
            if link is not None:
                link.close()
            server.terminate()
            server.wait(60)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
