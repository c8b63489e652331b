"""Every benchmark of the hub web process, one command: 10 to 14 minutes on 2 cores.

Prepares both sides (Kolibri 0.19.5 in bench/.work/kolibri-venv, the Ardoise data folder),
then runs bench/web_bench.py (Ardoise beside Kolibri, against the targets) and
bench/wsgi_servers.py (the choice of WSGI server), and prints their tables with the date,
the machine and its load average before and after (other work on a shared machine skews
requests per second; the CPU time per request is the steadier figure).

Usage: .venv/bin/python bench/run_all.py [--quick] [--skip-servers]
Needs: wrk (`sudo apt-get install wrk`), Debian's chromium, network access to PyPI the
first time (Kolibri, gunicorn and cheroot are installed under bench/.work/).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import ardoise_setup, kolibri_setup, web_bench, wsgi_servers
from bench.common import load_average, require_wrk


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({model or platform.machine()}), {mem:.0f} GiB, "
            f"Python {platform.python_version()}, {platform.platform()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs to check the harness (figures not meaningful)")
    parser.add_argument("--skip-servers", action="store_true",
                        help="skip the WSGI server comparison")
    args = parser.parse_args()
    require_wrk()
    t0 = time.time()
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}\nmachine: {machine()}\n"
          f"load average before (1/5/15 min): {load_average()}", flush=True)
    kolibri_setup.ensure()
    ardoise_setup.ensure()
    ardoise_setup.ensure_servers()
    extra = ["--quick"] if args.quick else []
    web_bench.main(extra)
    if not args.skip_servers:
        wsgi_servers.main(extra)
    print(f"\nall benchmarks: {(time.time() - t0) / 60:.1f} min; load average after: "
          f"{load_average()}")


if __name__ == "__main__":
    main()
