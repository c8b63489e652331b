"""Content packs: the issue's speed targets, measured through the real code paths.

    .venv/bin/python bench/packs_bench.py            # everything (about 3 minutes)
    .venv/bin/python bench/packs_bench.py delta cap  # some of: delta resume verify
                                                     # install search cap

- delta:   a 200 MB pack, then a version with 2% of its files changed, pulled from an
           rsync daemon on 127.0.0.1: bytes on the wire for the update (target <= 5%).
- resume:  a full pull cut at half-way by a proxy that drops the connection, then
           resumed: bytes on the wire for both attempts vs an uncut pull (target <= 110%).
- verify:  `verify_tree` over the 200 MB pack (target >= 150 MB/s), with the peak of
           Python allocations (flat: one 1 MiB chunk).
- install: `install_pack` of a pack of 5,000 HTML resources, copy + hash + index
           (target < 10 s).
- search:  `find_resources` over 50,000 indexed resources, 300 queries (target p95 < 50 ms).
- cap:     a 1 MB pull capped at 256 kbit/s: rate on the wire (target within 10%).

Bytes on the wire are counted by a TCP proxy between rsync and the daemon (both on
127.0.0.1), so they include rsync's protocol overhead and a cut attempt's bytes.
"""

from __future__ import annotations

import bisect
import itertools
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from ardoise.db import make_engine
from content_packs.errors import TransferFailed
from content_packs.install import install_pack, verify_tree
from content_packs.manifest import read_manifest, write_manifest
from content_packs.publish import publish_pack
from content_packs.pull import pull_pack
from content_packs.rsync import TransferOptions
from content_packs.search import Filters, find_resources
from content_packs.signing import MANIFEST_CONTEXT, Trust, public_raw, sign_file
from content_packs.sources import RsyncSource
from hub.db import upgrade
from tests.content_packs.rsyncd import start_daemon

MB = 1_000_000
META = {"id": "bench", "version": "1.0.0", "title": {"fr": "Banc", "en": "Bench"},
        "description": {"fr": "", "en": ""}, "licence": "CC-BY-4.0", "publisher": "Bench",
        "language": "fr", "subjects": ["francais"], "cycles": ["primaire-2"]}
WORDS = ("école", "fleuve", "béluga", "phare", "marée", "forêt", "érable", "neige", "castor",
         "orignal", "saumon", "fraction", "nombre", "équation", "volcan", "planète", "soleil",
         "lune", "étoile", "nuage", "pluie", "rivière", "montagne", "village", "pêcheur",
         "bateau", "baleine", "caribou", "boréal", "toundra", "glacier", "électricité", "aimant",
         "énergie", "plante", "racine", "feuille", "insecte", "abeille", "papillon", "histoire",
         "Nouvelle-France", "autochtone", "traité", "voyageur", "canot", "fourrure",
         "seigneurie", "poème", "conte", "légende", "lecture", "écriture", "grammaire", "verbe",
         "adjectif", "musique", "danse")
KEY = Ed25519PrivateKey.generate()
TRUST = Trust.of([public_raw(KEY)])
RESULTS: list[tuple[str, str, str, bool]] = []


def log(msg: str) -> None:
    print(f"[packs {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def record(what: str, figure: str, target: str, ok: bool) -> None:
    RESULTS.append((what, figure, target, ok))
    log(f"{what}: {figure} (target {target}) {'OK' if ok else 'MISSED'}")


class Proxy:
    """A TCP relay 127.0.0.1:port -> the daemon, counting the bytes sent to the client;
    `cut_after` drops every connection once that many bytes went through."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.port = self.server.getsockname()[1]
        self.down = 0
        self.cut_after: int | None = None
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.accepting = threading.Thread(target=self._accept, daemon=True)
        self.accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for src, dst, count in ((client, upstream, False), (upstream, client, True)):
                t = threading.Thread(target=self._pump, args=(src, dst, count), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(65536):
                if count:
                    with self.lock:
                        self.down += len(data)
                        cut = self.cut_after is not None and self.down >= self.cut_after
                    if cut:
                        self.cut_after = None
                        raise OSError("cut")
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self.server.close()


@contextmanager
def served(tree: Path, work: Path) -> Iterator[tuple[Any, Proxy]]:
    daemon = start_daemon(tree, work / "rsyncd")
    proxy = Proxy(daemon.port)
    try:
        yield daemon, proxy
    finally:
        proxy.close()
        daemon.stop()


def make_pack(folder: Path, files: int, size: int, version: str = "1.0.0") -> Path:
    folder.mkdir(parents=True)
    resources = []
    for i in range(files):
        rel = f"videos/v{i:04d}.mp4"
        (folder / rel).parent.mkdir(exist_ok=True)
        (folder / rel).write_bytes(os.urandom(size))
        resources.append({"id": f"v{i:04d}", "kind": "video", "entry": rel,
                          "title": {"fr": f"Vidéo {i}", "en": f"Video {i}"}})
    write_manifest(folder, {**META, "version": version}, resources)
    sign_file(KEY, folder / "manifest.json", folder / "manifest.sig", MANIFEST_CONTEXT)
    return folder


def next_version(previous: Path, folder: Path, changed: int, version: str) -> Path:
    shutil.copytree(previous, folder)
    for i in range(changed):
        (folder / f"videos/v{i * 7:04d}.mp4").write_bytes(
            os.urandom((folder / f"videos/v{i * 7:04d}.mp4").stat().st_size))
    old = read_manifest(previous)
    write_manifest(folder, {**META, "version": version}, [r.to_dict() for r in old.resources])
    sign_file(KEY, folder / "manifest.json", folder / "manifest.sig", MANIFEST_CONTEXT)
    return folder


def fresh_data(work: Path, name: str) -> tuple[Path, Any]:
    data = work / name
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'ardoise.db'}")
    upgrade(engine)
    return data, engine


def pull(engine: Any, data: Path, url: str, version: str | None = None,
         options: TransferOptions | None = None) -> Any:
    with Session(engine, expire_on_commit=False) as s:
        return pull_pack(s, data, RsyncSource(url), "bench", version, trust=TRUST,
                         options=options or TransferOptions(connect_timeout=5, io_timeout=30))


def bench_delta_resume_verify(work: Path, which: set[str]) -> None:
    tree = work / "tree"
    tree.mkdir()
    log("making a 200 MB pack (400 files of 500 kB) and a version with 2% changed")
    v1 = make_pack(work / "v1", 400, 500_000)
    v2 = next_version(v1, work / "v2", 8, "2.0.0")
    for folder in (v1, v2):
        publish_pack(folder, tree, trust=TRUST, key=KEY)
    size = read_manifest(v1).total_bytes
    with served(tree, work) as (_daemon, proxy):
        url = f"rsync://127.0.0.1:{proxy.port}/packs"
        if which & {"delta", "resume"}:
            data, engine = fresh_data(work, "hub-a")
            start = proxy.down
            t0 = time.monotonic()
            pull(engine, data, url, "1.0.0")
            uncut = proxy.down - start
            log(f"full pull: {uncut / MB:.1f} MB on the wire in {time.monotonic() - t0:.1f} s")
            if "delta" in which:
                start = proxy.down
                result = pull(engine, data, url, "2.0.0")
                delta = proxy.down - start
                record("delta pull of a new version (2% of files changed, 200 MB pack)",
                       f"{delta / MB:.2f} MB = {100 * delta / size:.2f}% of the pack "
                       f"(rsync: {result.stats.bytes_received / MB:.2f} MB received)",
                       "<= 5%", delta <= 0.05 * size)
            engine.dispose()
        if "resume" in which:
            data, engine = fresh_data(work, "hub-b")
            start = proxy.down
            proxy.cut_after = start + uncut // 2
            try:
                pull(engine, data, url, "1.0.0")
                raise SystemExit("the cut did not happen")
            except TransferFailed as exc:
                log(f"cut: {exc}")
            first = proxy.down - start
            start = proxy.down
            pull(engine, data, url, "1.0.0")
            second = proxy.down - start
            total = first + second
            record("pull cut at half-way, then resumed",
                   f"{first / MB:.1f} + {second / MB:.1f} = {total / MB:.1f} MB, "
                   f"{100 * total / uncut:.1f}% of an uncut pull ({uncut / MB:.1f} MB)",
                   "<= 110%", total <= 1.10 * uncut)
            engine.dispose()
    if "verify" in which:
        manifest = read_manifest(v1)
        verify_tree(v1, manifest)  # the page cache warm, as right after a download
        tracemalloc.start()
        t0 = time.perf_counter()
        verify_tree(v1, manifest)
        seconds = time.perf_counter() - t0
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rate = size / seconds / MB
        record("verification of the 200 MB pack (SHA-256 of every file)",
               f"{rate:.0f} MB/s, peak Python allocations {peak / 1024:.0f} KiB",
               ">= 150 MB/s, flat memory", rate >= 150 and peak < 4 * 1024 * 1024)


STOPWORDS = ("le", "la", "les", "de", "des", "du", "et", "un", "une", "l", "d", "en", "à",
             "au", "pour", "dans", "sur", "est", "qui", "que", "il", "elle", "on", "ne", "pas")


class Corpus:
    """French-looking text: stop words as frequent as in French, and 20,000 made-up words
    plus the theme words above drawn with a Zipf law, as the words of real lessons are.
    Queries are drawn from the same law (so the most frequent words are searched most)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        syllables = ["ba", "ca", "de", "fi", "gou", "la", "mi", "no", "pa", "ri", "sa", "tu",
                     "vo", "cha", "ette", "on", "ar", "lé", "mé", "ni", "ou", "ra", "ti", "zo"]
        made: set[str] = set()
        while len(made) < 20_000:
            made.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
        self.vocabulary = sorted(made)
        rng.shuffle(self.vocabulary)
        for word in WORDS:  # the theme words, as frequent as topic words are: mid ranks
            self.vocabulary.insert(rng.randint(50, 2000), word)
        weights = [1 / (rank + 1) ** 1.07 for rank in range(len(self.vocabulary))]
        total = sum(weights)
        self.cumulative = list(itertools.accumulate(w / total for w in weights))

    def word(self) -> str:
        return self.vocabulary[bisect.bisect_left(self.cumulative, self.rng.random())
                               % len(self.vocabulary)]

    def text(self, n: int) -> str:
        return " ".join(self.rng.choice(STOPWORDS) if self.rng.random() < 0.4 else self.word()
                        for _ in range(n))


def make_text_pack(folder: Path, pack_id: str, count: int, corpus: Corpus) -> Path:
    rng = corpus.rng
    folder.mkdir(parents=True)
    resources = []
    for i in range(count):
        rel = f"lecons/l{i:05d}.html"
        (folder / rel).parent.mkdir(exist_ok=True)
        title = corpus.text(5)
        (folder / rel).write_text(f"<html><head><title>{title}</title></head><body>"
                                  f"<p>{corpus.text(150)}</p></body></html>",
                                  encoding="utf-8")
        resources.append({"id": f"l{i:05d}", "kind": "html", "entry": rel,
                          "title": {"fr": title, "en": title},
                          "subjects": [rng.choice(["francais", "mathematique",
                                                   "science-technologie", "univers-social"])],
                          "cycles": [rng.choice(["primaire-1", "primaire-2", "primaire-3"])]})
    write_manifest(folder, {**META, "id": pack_id, "subjects": ["francais"],
                            "cycles": ["primaire-2"]}, resources)
    return folder


def bench_install_search(work: Path, which: set[str]) -> None:
    corpus = Corpus(random.Random(7))
    rng = corpus.rng
    data, engine = fresh_data(work, "hub-c")
    count = 10 if "search" in which else 1
    log(f"making {count} pack(s) of 5,000 lessons of 150 words")
    packs = [make_text_pack(work / f"text{i}", f"lecons-{i}", 5000, corpus)
             for i in range(count)]
    times = []
    with Session(engine, expire_on_commit=False) as s:
        for folder in packs:
            t0 = time.perf_counter()
            install_pack(s, data, folder)
            times.append(time.perf_counter() - t0)
    if "install" in which:
        record("install and index a pack of 5,000 resources", f"{times[0]:.2f} s",
               "< 10 s", times[0] < 10)
    if "search" in which:
        queries = []
        for _ in range(300):
            # What people type: 1 to 4 words as frequent as in the lessons (stop words
            # included), the last one often unfinished (it is matched as a prefix).
            words = corpus.text(rng.randint(1, 4))
            cut = rng.randint(max(1, len(words) - 3), len(words))
            queries.append((words[:cut], rng.random() < 0.3))
        latencies = []
        with Session(engine) as s:
            find_resources(s, "école")  # open the index
            for query, filtered in queries:
                filters = Filters(subject="mathematique") if filtered else None
                t0 = time.perf_counter()
                find_resources(s, query, filters, limit=30)
                latencies.append((time.perf_counter() - t0) * 1000)
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        record("search over 50,000 indexed resources (300 queries, 30% with a filter)",
               f"p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
               f"max {latencies[-1]:.1f} ms", "p95 < 50 ms", p95 < 50)
    engine.dispose()


def bench_cap(work: Path) -> None:
    tree = work / "cap-tree"
    tree.mkdir()
    folder = make_pack(work / "cap", 1, 1_000_000)
    publish_pack(folder, tree, trust=TRUST, key=KEY)
    data, engine = fresh_data(work, "hub-d")
    with served(tree, work / "cap-daemon") as (_daemon, proxy):
        url = f"rsync://127.0.0.1:{proxy.port}/packs"
        options = TransferOptions(bwlimit_kbps=256, connect_timeout=5, io_timeout=30)
        samples: list[tuple[float, int]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.monotonic(), proxy.down))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            pull(engine, data, url, options=options)
        finally:
            stop.set()
            sampler.join()
    # The rate while the file flows: from 5% to 95% of the bytes that went through.
    total = samples[-1][1]
    lo = next(t for t, b in samples if b >= 0.05 * total)
    hi_t, hi_b = next((t, b) for t, b in samples if b >= 0.95 * total)
    lo_b = next(b for t, b in samples if t == lo)
    kbps = (hi_b - lo_b) * 8 / 1000 / (hi_t - lo)
    record("pull capped at 256 kbit/s (1 MB file)", f"{kbps:.1f} kbit/s on the wire",
           "256 kbit/s within 10%", abs(kbps - 256) <= 25.6)
    engine.dispose()


def main() -> None:
    which = set(sys.argv[1:]) or {"delta", "resume", "verify", "install", "search", "cap"}
    work = Path(tempfile.mkdtemp(prefix="packs-bench-"))
    try:
        if which & {"delta", "resume", "verify"}:
            bench_delta_resume_verify(work, which)
        if which & {"install", "search"}:
            bench_install_search(work, which)
        if "cap" in which:
            bench_cap(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| what | figure | target | met |\n|---|---|---|---|")
    for what, figure, target, ok in RESULTS:
        print(f"| {what} | {figure} | {target} | {'yes' if ok else 'NO'} |")
    print(f"\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
