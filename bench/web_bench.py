"""The hub web process beside Kolibri 0.19.5, on the same machine, same class, same harness.

Measures, for each system in turn (never both running at once):
  1. launch to the first 200 on "/" (several launches, median);
  2. resident memory idle after start, and after a first request;
  3. 30 students signing in at the same moment (30 concurrent sign-in calls, after each
     student's tablet fetched the sign-in page/session): time until the last is signed in;
  4. a student's assignment list under 30 concurrent signed-in students (wrk, 30 keep-alive
     connections, each request with the next student's session cookie): requests per
     second and latency percentiles; ours as JSON and as the page, Kolibri's
     /learn/api/learnerclassroom/;
  5. the student home page's weight: opened in headless Chromium, cold cache; every
     response counted, its body gzip-compressed (level 6) as the front nginx sends it;
  6. memory under a soak of N requests (assignment list, home page and "/" in turn),
     sampled every `step` requests: value at the end and slope (trend).

Usage: .venv/bin/python bench/web_bench.py [--only ardoise|kolibri] [--quick] [--threads N]
Needs wrk (`sudo apt-get install wrk`) and Debian's chromium (for the page weight).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import ardoise_setup, kolibri_setup
from bench.common import (
    Client,
    LoadResult,
    Server,
    exit_on_sigterm,
    free_port,
    load_average,
    log,
    page_weight,
    require_wrk,
    run_wrk,
    save,
    slope,
    table,
    verdict,
)


@dataclass
class System:
    """One side of the comparison: how to start it, sign students in, and what to load."""

    name: str
    make_server: Callable[[int], Server]
    users: list[dict[str, Any]]
    session_start: Callable[[Client], str]
    sign_in: Callable[[Client, dict[str, Any], str], int]
    check: Callable[[Client], None]
    loads: dict[str, str]          # label -> path measured under load
    home_page: str                 # the student home page, for its weight
    soak_paths: list[str] = field(default_factory=list)


def ardoise_system(server_kind: str = "waitress") -> System:
    fx = ardoise_setup.ensure()
    return System(
        name="Ardoise" if server_kind == "waitress" else f"Ardoise ({server_kind})",
        make_server=lambda port: ardoise_setup.server(port, server_kind),
        users=fx.students,
        session_start=ardoise_setup.session_start,
        sign_in=ardoise_setup.sign_in,
        check=ardoise_setup.check_signed_in,
        loads={"list_json": ardoise_setup.ASSIGNMENTS_API,
               "list_page": ardoise_setup.HOME_PATH},
        home_page=ardoise_setup.HOME_PATH,
        soak_paths=[ardoise_setup.ASSIGNMENTS_API, ardoise_setup.HOME_PATH],
    )


def kolibri_system() -> System:
    fx = kolibri_setup.ensure()
    return System(
        name=f"Kolibri {kolibri_setup.KOLIBRI_VERSION}",
        make_server=kolibri_setup.server,
        users=fx.learners,
        session_start=kolibri_setup.session_start,
        sign_in=lambda c, u, csrf: kolibri_setup.sign_in(c, fx, u, csrf),
        check=kolibri_setup.check_signed_in,
        loads={"list_json": kolibri_setup.CLASSROOM_API},
        home_page=kolibri_setup.HOME_PATH,
        # Kolibri's learner page is "/fr-fr/learn/" (the part after # never reaches the server)
        soak_paths=[kolibri_setup.CLASSROOM_API, "/fr-fr/learn/"],
    )


# -- measurements -----------------------------------------------------------------------

def launch_times(system: System, runs: int) -> list[float]:
    """Seconds from exec of the production command to the first 200 on "/"."""
    out = []
    for _ in range(runs):
        srv = system.make_server(free_port())
        with srv:
            out.append(round(srv.wait_first_200("/"), 3))
    return out


def signin_burst(system: System, port: int) -> tuple[list[Client], dict[str, Any]]:
    """Every student's tablet has fetched the sign-in session (CSRF token) on its own
    keep-alive connection; then all 30 sign-in calls are sent at the same moment."""
    clients = [Client(port) for _ in system.users]
    tokens = [system.session_start(c) for c in clients]
    barrier = threading.Barrier(len(clients) + 1)
    done: list[float] = [0.0] * len(clients)
    statuses: list[int] = [0] * len(clients)
    start = [0.0]

    def one(i: int) -> None:
        barrier.wait()
        try:
            statuses[i] = system.sign_in(clients[i], system.users[i], tokens[i])
        except Exception as exc:  # report, don't hang the barrier
            log(f"sign-in {i} failed: {exc!r}")
            statuses[i] = -1
        done[i] = time.perf_counter()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(clients))]
    for t in threads:
        t.start()
    time.sleep(0.2)
    start[0] = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join(timeout=120)
    times = sorted(d - start[0] for d in done)
    ok = sum(1 for s in statuses if s == 200)
    return clients, {"signed_in": ok, "of": len(clients),
                     "last_s": round(times[-1], 3), "median_s": round(statistics.median(times), 3),
                     "first_s": round(times[0], 3), "statuses": sorted(set(statuses))}


def soak(srv: Server, cookies: list[str], paths: list[str], total: int, step: int
         ) -> dict[str, Any]:
    """`total` requests in chunks of `step`, RSS read after each chunk."""
    samples = [(0, srv.memory().rss_mib)]
    sent, non200, errors = 0, 0, 0
    t0 = time.perf_counter()
    while sent < total:
        r = run_wrk(srv.port, cookies, paths, duration=600, limit=min(step, total - sent))
        sent += r.requests
        non200 += r.non200
        errors += r.errors
        samples.append((sent, srv.memory().rss_mib))
    xs = [float(n) for n, _ in samples]
    ys = [m for _, m in samples]
    half = len(samples) // 2
    return {
        "requests": sent, "seconds": round(time.perf_counter() - t0, 1),
        "non200": non200, "errors": errors,
        "rss_start_mib": ys[0], "rss_end_mib": ys[-1], "rss_max_mib": max(ys),
        "slope_mib_per_10k": round(slope(xs, ys) * 10_000, 2),
        "slope_second_half_mib_per_10k": round(slope(xs[half:], ys[half:]) * 10_000, 2),
        "samples": samples,
    }


def measure(system: System, *, launches: int, duration: float, warmup: float,
            soak_total: int, soak_step: int, weight: bool, burst_rounds: int
            ) -> dict[str, Any]:
    res: dict[str, Any] = {"system": system.name}
    log(f"{system.name}: launch to first 200 on / ({launches} launches)")
    res["launch_s"] = launch_times(system, launches)

    srv = system.make_server(free_port())
    with srv:
        res["listen_s"] = round(srv.wait_listening(), 3)
        time.sleep(3)
        res["mem_idle"] = srv.memory().as_dict()
        Client(srv.port).get("/", follow=True)
        time.sleep(0.5)
        res["mem_first_request"] = srv.memory().as_dict()

        log(f"{system.name}: 30 students sign in at once ({burst_rounds} rounds)")
        bursts = []
        clients: list[Client] = []
        for _ in range(burst_rounds):
            clients, burst = signin_burst(system, srv.port)
            bursts.append(burst)
        res["signin"] = bursts
        for c in clients:
            system.check(c)
        res["mem_after_signin"] = srv.memory().as_dict()
        cookies = [c.cookie_header() for c in clients]
        for c in clients:
            c.close()

        loads: dict[str, Any] = {}
        for label, path in system.loads.items():
            log(f"{system.name}: load on {path} ({warmup:.0f} s warm-up, {duration:.0f} s)")
            run_wrk(srv.port, cookies, [path], duration=warmup)
            r: LoadResult = run_wrk(srv.port, cookies, [path], duration=duration,
                                    server_pid=srv.pid)
            loads[label] = {"path": path, **r.as_dict()}
        res["load"] = loads
        res["mem_after_load"] = srv.memory().as_dict()

        if weight:
            log(f"{system.name}: weight of {system.home_page} in Chromium")
            jar = dict(pair.split("=", 1) for pair in cookies[0].split("; "))
            resources = page_weight(srv.base, system.home_page, jar)
            res["weight"] = {
                "path": system.home_page, "requests": len(resources),
                "raw_bytes": sum(r.raw for r in resources),
                "gzip_bytes": sum(r.gz for r in resources),
                "resources": [r.__dict__ for r in resources]}

        if soak_total:
            log(f"{system.name}: memory soak, {soak_total} requests, RSS every {soak_step}")
            res["soak"] = soak(srv, cookies, system.soak_paths, soak_total, soak_step)
            res["mem_after_soak"] = srv.memory().as_dict()
    return res


# -- report -----------------------------------------------------------------------------

def _get(d: dict[str, Any] | None, *keys: str) -> Any:
    for k in keys:
        if d is None:
            return None
        d = d.get(k)  # type: ignore[assignment]
    return d


def _num(v: Any, fmt: str = "{:,.1f}") -> str:
    return "-" if v is None else fmt.format(v)


def report(ours: dict[str, Any] | None, kolibri: dict[str, Any] | None) -> str:
    rows: list[list[Any]] = []
    k_rps = _get(kolibri, "load", "list_json", "rps")

    def load_rows(label: str, key: str) -> None:
        o = _get(ours, "load", key)
        if o is None:
            return
        ratio = o["rps"] / k_rps if k_rps else None
        rows.append([f"{label}: requests/s", _num(o["rps"]), _num(k_rps),
                     ">= 5x Kolibri", (f"{ratio:.1f}x " if ratio else "") +
                     verdict(ratio >= 5 if ratio else None)])
        rows.append([f"{label}: p95 latency (ms)", _num(o["p95_ms"]),
                     _num(_get(kolibri, "load", "list_json", "p95_ms")), "< 100 ms",
                     verdict(o["p95_ms"] < 100)])
        o_cpu = o["cpu_ms_per_request"]
        k_cpu = _get(kolibri, "load", "list_json", "cpu_ms_per_request")
        rows.append([f"{label}: server CPU per request (ms)", _num(o_cpu, "{:.2f}"),
                     _num(k_cpu, "{:.2f}"), "(steadier than req/s on a busy machine)",
                     f"{k_cpu / o_cpu:.0f}x less" if (k_cpu and o_cpu) else ""])
        rows.append([f"{label}: p50 / p99 (ms)", f"{o['p50_ms']} / {o['p99_ms']}",
                     "-" if kolibri is None else
                     f"{_get(kolibri, 'load', 'list_json', 'p50_ms')} / "
                     f"{_get(kolibri, 'load', 'list_json', 'p99_ms')}", "", ""])

    load_rows("assignment list JSON (Kolibri: learnerclassroom)", "list_json")
    load_rows("student home page HTML (Kolibri: learnerclassroom)", "list_page")

    def mem_row(label: str, key: str, target: float | None) -> None:
        o = _get(ours, key, "rss_mib")
        k = _get(kolibri, key, "rss_mib")
        rows.append([label, _num(o), _num(k), f"< {target:.0f} MiB" if target else "",
                     verdict(o < target if (o is not None and target) else None)
                     if target else ""])

    mem_row("RSS idle after start (MiB)", "mem_idle", 60)
    mem_row("RSS after a first request (MiB)", "mem_first_request", None)
    o_soak, k_soak = _get(ours, "soak"), _get(kolibri, "soak")
    if o_soak or k_soak:
        rows.append(["soak: requests", _num(_get(o_soak, "requests"), "{:,}"),
                     _num(_get(k_soak, "requests"), "{:,}"), "30,000", ""])
        rows.append(["RSS after the soak (MiB)", _num(_get(o_soak, "rss_end_mib")),
                     _num(_get(k_soak, "rss_end_mib")), "< 80 MiB",
                     verdict(o_soak["rss_end_mib"] < 80 and o_soak["requests"] >= 30_000)
                     if o_soak else ""])
        rows.append(["RSS slope, whole soak (MiB per 10k requests)",
                     _num(_get(o_soak, "slope_mib_per_10k"), "{:+.2f}"),
                     _num(_get(k_soak, "slope_mib_per_10k"), "{:+.2f}"), "", ""])
        s2 = _get(o_soak, "slope_second_half_mib_per_10k")
        rows.append(["RSS slope, second half (MiB per 10k requests)", _num(s2, "{:+.2f}"),
                     _num(_get(k_soak, "slope_second_half_mib_per_10k"), "{:+.2f}"),
                     "no upward trend (< +0.5)", verdict(s2 < 0.5 if s2 is not None else None)])
    o_launch = statistics.median(ours["launch_s"]) if ours else None
    k_launch = statistics.median(kolibri["launch_s"]) if kolibri else None
    rows.append(["launch to first 200 on / (s, median)", _num(o_launch, "{:.2f}"),
                 _num(k_launch, "{:.2f}"), "< 1 s",
                 verdict(o_launch < 1 if o_launch is not None else None)])
    o_w, k_w = _get(ours, "weight", "gzip_bytes"), _get(kolibri, "weight", "gzip_bytes")
    rows.append(["student home page, gzip (KB)", _num(o_w / 1000 if o_w else None),
                 _num(k_w / 1000 if k_w else None), "< 30 KB",
                 verdict(o_w < 30_000 if o_w else None)])
    rows.append(["  of which requests / raw KB",
                 "-" if not o_w else f"{ours['weight']['requests']} / "
                 f"{ours['weight']['raw_bytes'] / 1000:,.1f}",
                 "-" if not k_w else f"{kolibri['weight']['requests']} / "
                 f"{kolibri['weight']['raw_bytes'] / 1000:,.1f}", "", ""])

    def burst(d: dict[str, Any] | None) -> tuple[float | None, str]:
        if not d:
            return None, "-"
        worst = max(b["last_s"] for b in d["signin"])
        ok = min(b["signed_in"] for b in d["signin"])
        return worst, f"{worst:.2f} ({ok}/{d['signin'][0]['of']} ok)"

    o_b, o_txt = burst(ours)
    _k_b, k_txt = burst(kolibri)
    rows.append(["30 sign-ins at once: last signed in (s, worst round)", o_txt, k_txt, "< 2 s",
                 verdict(o_b < 2 and all(b["signed_in"] == b["of"] for b in ours["signin"]))
                 if ours else ""])
    return table(["measure", "Ardoise", "Kolibri", "target", "met"], rows,
                 "Hub web process beside Kolibri")


def details(res: dict[str, Any]) -> str:
    out = []
    rows = [[label, v["path"], v["requests"], v["rps"], v["p50_ms"], v["p95_ms"], v["p99_ms"],
             v["max_ms"], v["non200"], v["errors"], v["server_cpu_pct"], v["cpu_ms_per_request"],
             v["wrk_cpu_pct"]]
            for label, v in res.get("load", {}).items()]
    out.append(table(["load", "path", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms",
                      "max ms", "non-200", "errors", "server CPU %", "CPU ms/req", "wrk CPU %"],
                     rows,
                     f"{res['system']}: load detail (30 connections, 2 wrk threads)"))
    out.append(table(["round", "signed in", "first s", "median s", "last s"],
                     [[i + 1, f"{b['signed_in']}/{b['of']}", b["first_s"], b["median_s"],
                       b["last_s"]] for i, b in enumerate(res.get("signin", []))],
                     f"{res['system']}: 30 sign-ins at once"))
    mem = [[k, res[k]["rss_mib"], res[k]["pss_mib"], res[k]["processes"]]
           for k in ("mem_idle", "mem_first_request", "mem_after_signin", "mem_after_load")
           if k in res]
    if "mem_after_soak" in res:
        m = res["mem_after_soak"]
        mem.append(["mem_after_soak", m["rss_mib"], m["pss_mib"], m["processes"]])
    out.append(table(["when", "RSS MiB", "PSS MiB", "processes"], mem,
                     f"{res['system']}: memory"))
    if "soak" in res:
        s = res["soak"]
        pts = s["samples"]
        pick = pts if len(pts) <= 12 else [pts[i * (len(pts) - 1) // 11] for i in range(12)]
        out.append(table(["requests", "RSS MiB"], [[n, m] for n, m in pick],
                         f"{res['system']}: RSS during the soak ({s['requests']:,} requests "
                         f"in {s['seconds']} s, {s['non200']} non-200, {s['errors']} errors)"))
    if "weight" in res:
        w = res["weight"]
        rows = sorted(([r["url"][:70], r["content_type"].split(";")[0], r["raw"], r["gz"]]
                       for r in w["resources"]), key=lambda r: -r[3])
        shown = rows[:15]
        if len(rows) > 15:
            rest = rows[15:]
            shown.append([f"... {len(rest)} more", "", sum(r[2] for r in rest),
                          sum(r[3] for r in rest)])
        shown.append(["TOTAL", f"{w['requests']} requests", w["raw_bytes"], w["gzip_bytes"]])
        out.append(table(["url", "type", "raw bytes", "gzip bytes"], shown,
                         f"{res['system']}: what {w['path']} loads (cold cache)"))
    out.append(f"launches (s): {res['launch_s']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("ardoise", "kolibri"))
    parser.add_argument("--server", default="waitress", choices=list(ardoise_setup.SERVERS),
                        help="WSGI server for Ardoise (default: the production one)")
    parser.add_argument("--threads", type=int, default=0,
                        help="worker threads of Ardoise's server (ARDOISE_THREADS; default: "
                             "the setting's default)")
    parser.add_argument("--duration", type=float, default=15, help="seconds per load run")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--soak", type=int, default=30_000, help="Ardoise soak requests")
    parser.add_argument("--kolibri-soak", type=int, default=1_500,
                        help="Kolibri soak requests (it serves 10 to 25 per second here: "
                             "30,000 would take half an hour; compare the slopes)")
    parser.add_argument("--step", type=int, default=1_000, help="RSS sample every N requests")
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="sign-in burst rounds")
    parser.add_argument("--no-weight", action="store_true", help="skip the Chromium part")
    parser.add_argument("--quick", action="store_true",
                        help="short runs to check the harness (figures not meaningful)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.soak, args.kolibri_soak = 3, 1, 2_000, 300
        args.launches, args.rounds, args.step = 1, 1, 500
    require_wrk()
    exit_on_sigterm()
    if args.threads:
        os.environ["ARDOISE_THREADS"] = str(args.threads)  # the servers inherit it
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                               "load_before": load_average(),
                               "threads": args.threads or None}
    common = {"launches": args.launches, "duration": args.duration, "warmup": args.warmup,
              "weight": not args.no_weight, "burst_rounds": args.rounds}
    if args.only in (None, "ardoise"):
        results["ardoise"] = measure(ardoise_system(args.server), soak_total=args.soak,
                                     soak_step=args.step, **common)
    if args.only in (None, "kolibri"):
        results["kolibri"] = measure(kolibri_system(), soak_total=args.kolibri_soak,
                                     soak_step=max(100, args.kolibri_soak // 10), **common)
    results["load_after"] = load_average()
    path = save("web_bench", results)
    for key in ("ardoise", "kolibri"):
        if key in results:
            print(details(results[key]))
    print(report(results.get("ardoise"), results.get("kolibri")))
    print(f"\nload average (1/5/15 min) before: {results['load_before']}, "
          f"after: {results['load_after']}; raw results: {path}")
    return results


if __name__ == "__main__":
    main()
