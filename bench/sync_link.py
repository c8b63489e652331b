"""Sync over an emulated satellite link: requests, bytes on the wire, seconds.

A central (the real app, role central, SQLite) served on loopback, a hub database, and
the link emulator of the tests between them (256 kbit/s each way, 600 ms round trip).
Scenarios: 1,000 records each way; a sync with nothing to move; a cut in the middle of a
transfer (bytes sent again); 100,000 records pulled by a fresh hub (memory growth of
this process and p95 of a student page served meanwhile).

    .venv/bin/python bench/sync_link.py [--big 100000] [--skip-big]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from werkzeug.serving import make_server

from ardoise.db import make_engine
from hub import create_app
from hub.central import fleet
from hub.db import database, upgrade
from hub.models import ProgressEvent, ProgressKind
from hub.sync_registry import install_capture, registry
from sync import hubside
from sync.client import SyncUnavailable
from tests.factories import make_world
from tests.sync.linkemu import LinkEmulator

STUDENT_PAGE = "/student/"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Pair:
    """A central served on loopback and an enrolled hub database."""

    def __init__(self, root: Path, template: Path, students: int = 20) -> None:
        (root / "central").mkdir()
        (root / "hub").mkdir()
        shutil.copy(template, root / "central" / "ardoise.db")
        shutil.copy(template, root / "hub" / "ardoise.db")
        self.app = create_app({"TESTING": True, "data_dir": str(root / "central"),
                               "role": "central"})
        self.central = database(self.app).sessions
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.hub_dir = root / "hub"
        self.engine = make_engine(f"sqlite:///{root / 'hub' / 'ardoise.db'}")
        self.hub = sessionmaker(self.engine, expire_on_commit=False)
        install_capture(self.hub)
        self.world = make_world(self.app, n_students=students)
        with self.central() as s:
            token = fleet.create_token(s, self.world.school.id)
            s.commit()
        hubside.enroll(self.engine, self.hub_dir, f"http://127.0.0.1:{self.port}", token)
        self.sync()

    @property
    def port(self) -> int:
        return self.server.server_port

    def sync(self, url: str | None = None, **kw: Any) -> Any:
        return hubside.sync_now(self.engine, registry(), self.hub_dir, url=url, **kw)

    def events(self, side: str, n: int, tag: str) -> None:
        sessions = self.hub if side == "hub" else self.central
        w = self.world
        with sessions() as s:
            for start in range(0, n, 5000):
                s.add_all([ProgressEvent(
                    school_id=w.school.id, classroom_id=w.classroom.id,
                    user_id=w.students[i % len(w.students)].id,
                    resource_uid=f"{tag}/ressource-{i}", kind=ProgressKind.OPENED)
                    for i in range(start, min(n, start + 5000))])
                s.commit()

    def count(self, side: str) -> int:
        sessions = self.hub if side == "hub" else self.central
        with sessions() as s:
            return s.scalar(select(func.count()).select_from(ProgressEvent))

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(5)
        self.engine.dispose()
        database(self.app).engine.dispose()


def measure(pair: Pair, link: LinkEmulator, **kw: Any) -> dict[str, Any]:
    b0, c0 = link.total_bytes, link.connections
    t0 = time.monotonic()
    stats = pair.sync(link.url, **kw)
    return {"requests": stats.extra["requests"], "bytes_on_wire": link.total_bytes - b0,
            "seconds": round(time.monotonic() - t0, 2), "rows_sent": stats.pushed_rows,
            "rows_received": stats.pulled_rows, "connections": link.connections - c0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--rate", type=float, default=256_000)
    parser.add_argument("--rtt", type=float, default=0.6)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        template = root / "template.db"
        engine = make_engine(f"sqlite:///{template}")
        upgrade(engine)
        engine.dispose()

        (root / "a").mkdir()
        pair = Pair(root / "a", template)
        link = LinkEmulator(pair.port, rate_bps=args.rate, rtt=args.rtt)
        try:
            pair.events("hub", 1000, "hub")
            pair.events("central", 1000, "central")
            results["1000 records each way"] = measure(pair, link)
            results["nothing to move"] = measure(pair, link)
            # a cut in the middle of a transfer of 3,000 records up
            pair.events("hub", 3000, "cut")
            up0 = link.up.bytes
            link.cut_after(25_000)
            t0 = time.monotonic()
            with contextlib.suppress(SyncUnavailable):
                pair.sync(link.url, read_timeout=10)
            second = measure(pair, link)
            total_up = link.up.bytes - up0
            results["cut mid-transfer (3000 records up)"] = {
                "bytes_up_both_attempts": total_up, "second_attempt": second,
                "seconds_total": round(time.monotonic() - t0, 2),
                "same_rows_both_sides": pair.count("hub") == pair.count("central")}
        finally:
            link.close()
            pair.close()
        # the same 3,000 records without a cut, to know how much was sent again
        (root / "b").mkdir()
        clean = Pair(root / "b", template)
        link = LinkEmulator(clean.port, rate_bps=args.rate, rtt=args.rtt)
        try:
            clean.events("hub", 3000, "cut")
            up0 = link.up.bytes
            clean.sync(link.url)
            clean_pair_bytes = link.up.bytes - up0
        finally:
            link.close()
            clean.close()
        cut = results["cut mid-transfer (3000 records up)"]
        cut["bytes_up_without_cut"] = clean_pair_bytes
        cut["bytes_sent_again"] = cut["bytes_up_both_attempts"] - clean_pair_bytes

        if not args.skip_big:
            (root / "c").mkdir()
            big = Pair(root / "c", template)
            big.events("central", args.big, "big")
            # a fresh hub: forget the enrollment's first pull by using a new hub database
            link = LinkEmulator(big.port, rate_bps=args.rate, rtt=args.rtt)
            latencies: list[float] = []
            stop = threading.Event()
            # the hub's own web app on the hub's database, a student signed in
            hub_app = create_app({"TESTING": True, "data_dir": str(big.hub_dir)})
            client = hub_app.test_client()
            student = big.world.students[0]
            with client.session_transaction() as sess:
                sess["uid"], sess["epoch"] = str(student.id), student.auth_epoch
            assert client.get(STUDENT_PAGE).status_code == 200

            def poll() -> None:
                while not stop.is_set():
                    t = time.monotonic()
                    client.get(STUDENT_PAGE)
                    latencies.append(time.monotonic() - t)
                    time.sleep(0.2)

            try:
                rss0 = rss_mb()
                poller = threading.Thread(target=poll)
                poller.start()
                result = measure(big, link)
                stop.set()
                poller.join()
                latencies.sort()
                result["rss_growth_mb"] = round(rss_mb() - rss0, 1)
                result["student_page_p95_ms_while_syncing"] = round(
                    latencies[int(len(latencies) * 0.95)] * 1000, 1) if latencies else None
                result["hub_rows"] = big.count("hub")
                results[f"{args.big} records pulled by a fresh hub"] = result
            finally:
                link.close()
                big.close()
                database(hub_app).engine.dispose()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("ARDOISE_LANGUAGE", "en")
    main()
