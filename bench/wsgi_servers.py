"""Which WSGI server for the hub's web process: the same app, data and load under each
candidate: waitress as the systemd unit runs it (`python -OO -m hub serve`), gunicorn gthread
with one and with two workers, cheroot as Kolibri uses it (all under -OO).

All candidates are started side by side (each idle while another is loaded), 30 students
sign in on each, then the load runs go round-robin over the servers for several rounds, so
that the background load of a shared machine falls on every candidate alike; the median
round is reported. Then, one server at a time: a memory soak and launch to first 200.

Usage: .venv/bin/python bench/wsgi_servers.py [--servers waitress,cheroot] [--quick]
The other servers are installed into bench/.work/pylib, never into the project's venv.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import ardoise_setup
from bench.common import (
    exit_on_sigterm,
    free_port,
    load_average,
    log,
    require_wrk,
    run_wrk,
    save,
    table,
)
from bench.web_bench import ardoise_system, launch_times, signin_burst, soak

PATHS = {"json": ardoise_setup.ASSIGNMENTS_API, "page": ardoise_setup.HOME_PATH}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median requests per second (its own latency figures with it)."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    return ordered[len(ordered) // 2]


def measure_all(kinds: list[str], *, rounds: int, duration: float, soak_total: int,
                launches: int) -> dict[str, Any]:
    systems = {k: ardoise_system(k) for k in kinds}
    servers = {k: systems[k].make_server(free_port()) for k in kinds}
    res: dict[str, Any] = {k: {"runs": {"json": [], "page": []}} for k in kinds}
    cookies: dict[str, list[str]] = {}
    with contextlib.ExitStack() as stack:
        for srv in servers.values():
            stack.enter_context(srv)
        for srv in servers.values():
            srv.wait_listening()
        time.sleep(3)
        for k, srv in servers.items():
            res[k]["mem_idle"] = srv.memory().as_dict()
        for k, srv in servers.items():
            log(f"{k}: 30 sign-ins at once")
            clients, burst = signin_burst(systems[k], srv.port)
            res[k]["signin"] = burst
            cookies[k] = [c.cookie_header() for c in clients]
            for c in clients:
                c.close()
            for path in PATHS.values():
                run_wrk(srv.port, cookies[k], [path], duration=2)  # warm-up
        for rnd in range(rounds):
            for k, srv in servers.items():
                log(f"round {rnd + 1}/{rounds}: {k}")
                for label, path in PATHS.items():
                    r = run_wrk(srv.port, cookies[k], [path], duration=duration,
                                server_pid=srv.pid)
                    res[k]["runs"][label].append(r.as_dict())
        for k, srv in servers.items():
            res[k]["mem_after_load"] = srv.memory().as_dict()
            srv.stop()
    for k in kinds:
        srv = systems[k].make_server(free_port())
        with srv:
            srv.wait_listening()
            log(f"{k}: memory soak, {soak_total} requests")
            clients, _burst = signin_burst(systems[k], srv.port)
            res[k]["soak"] = soak(srv, [c.cookie_header() for c in clients],
                                  list(PATHS.values()), soak_total, max(500, soak_total // 10))
            res[k]["mem_after_soak"] = srv.memory().as_dict()
            for c in clients:
                c.close()
        res[k]["launch_s"] = launch_times(systems[k], launches)
        for label in PATHS:
            res[k][label] = _median_run(res[k]["runs"][label])
    return res


def report(results: dict[str, dict[str, Any]]) -> str:
    rows = []
    for kind, r in results.items():
        j, p = r["json"], r["page"]
        rows.append([
            kind, f"{statistics.median(r['launch_s']):.2f}",
            f"{r['mem_idle']['rss_mib']} / {r['mem_idle']['pss_mib']}",
            f"{r['mem_after_soak']['rss_mib']} / {r['mem_after_soak']['pss_mib']}",
            f"{r['soak']['slope_second_half_mib_per_10k']:+.2f}",
            f"{r['signin']['last_s']:.2f}",
            f"{j['rps']:.0f}", f"{j['p95_ms']:.0f}", f"{j['cpu_ms_per_request']:.2f}",
            f"{p['rps']:.0f}", f"{p['p95_ms']:.0f}", f"{p['cpu_ms_per_request']:.2f}",
        ])
    return table(["server", "launch s", "idle RSS/PSS MiB", "after soak RSS/PSS MiB",
                  "slope MiB/10k", "30 sign-ins s", "JSON req/s", "JSON p95 ms",
                  "JSON CPU ms/req", "page req/s", "page p95 ms", "page CPU ms/req"], rows,
                 "WSGI servers for the hub (same app, same data, same load; median round)")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default=",".join(ardoise_setup.SERVERS),
                        help=f"comma-separated, from: {', '.join(ardoise_setup.SERVERS)}")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=6, help="seconds per load run")
    parser.add_argument("--soak", type=int, default=4_000)
    parser.add_argument("--launches", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    require_wrk()
    exit_on_sigterm()
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ardoise_setup.SERVERS]
    if unknown:
        raise SystemExit(f"unknown server {unknown[0]}: choose from "
                         f"{', '.join(ardoise_setup.SERVERS)}")
    if args.quick:
        args.rounds, args.duration, args.soak, args.launches = 1, 3, 1_000, 1
    ardoise_setup.ensure_servers()
    out: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                           "load_before": load_average()}
    out["servers"] = measure_all(kinds, rounds=args.rounds, duration=args.duration,
                                 soak_total=args.soak, launches=args.launches)
    out["load_after"] = load_average()
    path = save("wsgi_servers", out)
    for kind in kinds:
        print(f"{kind}: {ardoise_setup.SERVERS[kind]}")
    print(report(out["servers"]))
    print(f"\nload average before: {out['load_before']}, after: {out['load_after']}; "
          f"raw results: {path}")
    return out


if __name__ == "__main__":
    main()
