"""Device status and agent: one full status sample, and the agent process while idle.

    .venv/bin/python bench/agent_bench.py [--seconds 60] [--samples 50]

1. Status sample: `Sampler.sample()` on this machine's real /sys and /proc, a migrated
   database with a sync result and a heartbeat: median, 95th percentile and worst of
   `--samples` samples after one warm-up.
2. The agent: `ardoise agent` started as a process (GPIO through gpiozero's mock factory,
   zeroconf on 127.0.0.1 only, the web check on an unused loopback port), left idle for
   `--seconds`; resident memory (VmRSS, VmHWM) and CPU time (utime + stime from
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
from hub.db import upgrade

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def bench_sample(data_dir: Path, n: int) -> dict[str, float]:
    engine = make_engine(f"sqlite:///{data_dir / 'ardoise.db'}")
    upgrade(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions() as s:
        device.record_task_result(s, "sync", ok=True, message="bench")
        device.write_state(s, device.AGENT_KEY, {"hardware": "on"})
        s.commit()
    settings = load_settings(env={}, read_default_file=False,
                             overrides={"data_dir": str(data_dir), "port": 18999})
    src = sources_from_settings(settings, sessions)
    times = []
    with Sampler(src, limits=Thresholds.from_settings(settings)) as sampler:
        sampler.sample()  # warm-up: imports, first queries
        for _ in range(n):
            start = time.perf_counter()
            status = sampler.sample()
            times.append((time.perf_counter() - start) * 1000)
    engine.dispose()
    times.sort()
    return {"median_ms": statistics.median(times), "p95_ms": times[int(0.95 * (n - 1))],
            "max_ms": times[-1], "unknown": len(status.unknown)}  # type: ignore[dict-item]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def _mem_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon"):
            out[key] = int(value.split()[0])
    return out


def bench_agent(data_dir: Path, seconds: float) -> dict[str, float]:
    env = {**os.environ, "ARDOISE_DATA_DIR": str(data_dir), "ARDOISE_PORT": "18999",
           "ARDOISE_DISCOVERY_INTERFACES": "127.0.0.1", "GPIOZERO_PIN_FACTORY": "mock",
           "ARDOISE_LANGUAGE": "en"}
    log = open(data_dir / "agent.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([str(ROOT / ".venv/bin/ardoise"), "agent"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        engine = make_engine(f"sqlite:///{data_dir / 'ardoise.db'}")
        sessions = sessionmaker(engine)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # up once its first heartbeat is written
            with sessions() as s:
                beat = device.read_state(s, device.AGENT_KEY)
            if beat and beat[0].get("pid") == proc.pid:
                break
            if proc.poll() is not None:
                raise SystemExit(f"agent exited: {(data_dir / 'agent.log').read_text()}")
            time.sleep(0.5)
        engine.dispose()
        time.sleep(5)  # settle: announcement done, first samples taken
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
    return {"rss_mib": mem["VmRSS"] / 1024, "peak_rss_mib": mem["VmHWM"] / 1024,
            "anon_mib": mem["RssAnon"] / 1024,
            "cpu_percent": 100 * (cpu1 - cpu0) / (t1 - t0), "window_s": t1 - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="ardoise-agent-bench-") as tmp:
        sample = bench_sample(Path(tmp), args.samples)
        print(f"status sample: median {sample['median_ms']:.1f} ms, p95 {sample['p95_ms']:.1f} ms,"
              f" max {sample['max_ms']:.1f} ms ({int(sample['unknown'])} unknown fields here)")
        agent = bench_agent(Path(tmp), args.seconds)
        print(f"agent idle {agent['window_s']:.0f} s: RSS {agent['rss_mib']:.1f} MiB "
              f"(peak {agent['peak_rss_mib']:.1f}, anonymous {agent['anon_mib']:.1f}), "
              f"CPU {agent['cpu_percent']:.2f}% of a core")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
