"""Device status and agent: one full status sample, the agent process while idle, and the
short-lived child process that runs a task.

    .venv/bin/python bench/agent_bench.py [--seconds 60] [--samples 50]

1. Status sample: `Sampler.sample()` on this machine's real /sys and /proc and a migrated
   database holding a sync result and a heartbeat, read as the agent reads it (plain
   sqlite3, `hardware.store`) and as the web page and `ardoise status` read it
   (SQLAlchemy): median, 95th percentile and worst of `--samples` samples after one
   warm-up.
2. The agent: `.venv/bin/ardoise agent` started as a process (GPIO through gpiozero's mock
   factory, zeroconf on 127.0.0.1 only, the web check on an unused loopback port). Once
   its heartbeat is written, a "sync now" request starts the sync task in a child process
   (`ardoise agent run-task sync`, which fails at once here: the hub is not enrolled, but
   it loads everything a sync loads); its resident memory is polled every 10 ms while it
   runs (peak VmHWM seen). Then, after 5 s to settle, the agent is left idle for
   `--seconds`: resident memory (VmRSS, VmHWM) at the end and CPU time (utime + stime from
   /proc/<pid>/stat) over that window. Stopped by its PID with SIGTERM.

Targets (issue 5): sample under 50 ms; agent under 35 MiB resident and under 1% of a core.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import sessionmaker

from ardoise import device
from ardoise.db import make_engine
from ardoise.settings import load_settings
from hardware.status import Sampler, Thresholds, sources_from_settings
from hardware.store import SqliteStore
from hub.db import upgrade

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def bench_sample(data_dir: Path, n: int) -> dict[str, dict[str, float]]:
    engine = make_engine(f"sqlite:///{data_dir / 'ardoise.db'}")
    upgrade(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions() as s:
        device.record_task_result(s, "sync", ok=True, message="bench")
        device.write_state(s, device.AGENT_KEY, {"hardware": "on"})
        s.commit()
    settings = load_settings(env={}, read_default_file=False,
                             overrides={"data_dir": str(data_dir), "port": 18999})
    store = SqliteStore(data_dir / "ardoise.db")
    out = {}
    for name, src in (("agent (sqlite3)", sources_from_settings(settings, store=store)),
                      ("web and CLI (SQLAlchemy)", sources_from_settings(settings, sessions))):
        times = []
        with Sampler(src, limits=Thresholds.from_settings(settings)) as sampler:
            sampler.sample()  # warm-up: imports, first queries
            for _ in range(n):
                start = time.perf_counter()
                status = sampler.sample()
                times.append((time.perf_counter() - start) * 1000)
        times.sort()
        out[name] = {"median_ms": statistics.median(times),
                     "p95_ms": times[int(0.95 * (n - 1))], "max_ms": times[-1],
                     "unknown": len(status.unknown)}
    store.close()
    engine.dispose()
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def _mem_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0])
    return out


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ValueError):
            continue
    return found


def _watch_child(agent: int, store: SqliteStore, deadline: float) -> dict[str, float]:
    """Poll the agent's child while the requested sync runs: its peak memory and length."""
    peak: dict[int, dict[str, int]] = {}
    first_seen = last_seen = 0.0
    while time.monotonic() < deadline:
        for child in _children(agent):
            try:
                mem = _mem_kib(child)
            except (FileNotFoundError, ProcessLookupError):
                continue
            if not mem:
                continue
            first_seen = first_seen or time.monotonic()
            last_seen = time.monotonic()
            best = peak.setdefault(child, mem)
            if mem.get("VmHWM", 0) >= best.get("VmHWM", 0):
                peak[child] = mem
        if not store.pending_requests() and store.last_task_result("sync") is not None:
            break
        time.sleep(0.01)
    if not peak:
        raise SystemExit("no task process was seen")
    mem = max(peak.values(), key=lambda m: m.get("VmHWM", 0))
    return {"peak_rss_mib": mem["VmHWM"] / 1024, "seen_s": last_seen - first_seen}


def bench_agent(data_dir: Path, seconds: float) -> dict[str, float]:
    env = {**os.environ, "ARDOISE_DATA_DIR": str(data_dir), "ARDOISE_PORT": "18999",
           "ARDOISE_DISCOVERY_INTERFACES": "127.0.0.1", "GPIOZERO_PIN_FACTORY": "mock",
           "ARDOISE_LANGUAGE": "en"}
    store = SqliteStore(data_dir / "ardoise.db")
    store.clear_state("task:sync")
    log = open(data_dir / "agent.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([str(ROOT / ".venv/bin/ardoise"), "agent"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # up once its first heartbeat is written
            beat = store.read_state(device.AGENT_KEY)
            if beat and beat[0].get("pid") == proc.pid:
                break
            if proc.poll() is not None:
                raise SystemExit(f"agent exited: {(data_dir / 'agent.log').read_text()}")
            time.sleep(0.2)
        store.request_sync_now("cli")
        child = _watch_child(proc.pid, store, time.monotonic() + 60)
        result = store.last_task_result("sync")
        time.sleep(5)  # settle: announcement done, samples taken, task collected
        cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = _cpu_seconds(proc.pid), time.monotonic()
        mem = _mem_kib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        store.close()
    return {"rss_mib": mem["VmRSS"] / 1024, "peak_rss_mib": mem["VmHWM"] / 1024,
            "anon_mib": mem["RssAnon"] / 1024, "file_mib": mem["RssFile"] / 1024,
            "cpu_percent": 100 * (cpu1 - cpu0) / (t1 - t0), "window_s": t1 - t0,
            "child_peak_rss_mib": child["peak_rss_mib"], "child_seen_s": child["seen_s"],
            "child_result": f"{'ok' if result and result.ok else 'failed'}: "
                            f"{result.message if result else 'none'}"}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="ardoise-agent-bench-") as tmp:
        for name, s in bench_sample(Path(tmp), args.samples).items():
            print(f"status sample, {name}: median {s['median_ms']:.1f} ms, "
                  f"p95 {s['p95_ms']:.1f} ms, max {s['max_ms']:.1f} ms "
                  f"({int(s['unknown'])} unknown fields here)")
        agent = bench_agent(Path(tmp), args.seconds)
        print(f"task child (sync, {agent['child_result']}): peak RSS "
              f"{agent['child_peak_rss_mib']:.1f} MiB, seen for {agent['child_seen_s']:.1f} s")
        print(f"agent idle {agent['window_s']:.0f} s: RSS {agent['rss_mib']:.1f} MiB "
              f"(peak {agent['peak_rss_mib']:.1f}, anonymous {agent['anon_mib']:.1f}, "
              f"file-backed {agent['file_mib']:.1f}), "
              f"CPU {agent['cpu_percent']:.2f}% of a core")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
