"""The long-running `ardoise agent` stays small: it loads neither the web app, nor
SQLAlchemy, nor the sync engine, nor OpenSSL; its tasks run in child processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

# Runs `ardoise agent` in this process until its first heartbeat, then stops it with
# SIGTERM (as systemd does) and prints the modules it loaded.
SCRIPT = r"""
import json, os, signal, sqlite3, sys, threading, time
from contextlib import closing

def stop_once_beating():
    db = os.path.join(os.environ["ARDOISE_DATA_DIR"], "ardoise.db")
    end = time.monotonic() + 120
    while time.monotonic() < end:
        with closing(sqlite3.connect(db)) as conn:
            row = conn.execute("SELECT data FROM device_state WHERE key = 'agent'").fetchone()
        if row and json.loads(row[0]).get("pid") == os.getpid():
            break
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=stop_once_beating, daemon=True).start()
from hub.cli import main
main(["agent"], prog_name="ardoise", standalone_mode=False)
print(json.dumps({"loaded": sorted(k for k, v in sys.modules.items() if v is not None),
                  "ssl_blocked": "ssl" in sys.modules and sys.modules["ssl"] is None}))
"""

NOT_IN_THE_AGENT = ("flask", "werkzeug", "jinja2", "sqlalchemy", "alembic", "babel", "sync",
                    "content_packs", "segno", "msgpack", "zstandard", "ssl", "http.client",
                    "ardoise.db", "ardoise.device", "hardware.task_runner",
                    "hardware.cli_tasks", "hardware.orm_reader", "hardware.report")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_agent_process_loads_only_small_modules(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARDOISE_")}
    env.update(ARDOISE_DATA_DIR=str(data_dir), ARDOISE_LANGUAGE="en",
               ARDOISE_PORT=str(_free_port()), ARDOISE_DISCOVERY_INTERFACES="127.0.0.1",
               GPIOZERO_PIN_FACTORY="mock")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    loaded = set(report["loaded"])
    heavy = sorted(m for m in loaded
                   if any(m == h or m.startswith(h + ".") for h in NOT_IN_THE_AGENT))
    assert heavy == []
    assert {m for m in loaded if m.split(".")[0] == "hub"} == {"hub", "hub.cli"}
    assert report["ssl_blocked"] is True
    # ...and yet it did its work: lights on mock pins, the hub announced with zeroconf
    assert {"gpiozero", "zeroconf", "hardware.agent", "hardware.store"} <= loaded
    assert "announced as" in done.stderr
