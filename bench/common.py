"""What every benchmark shares: servers started and stopped by PID, an HTTP client with
cookies, the wrk load generator, memory readings, page weight and result tables.

Everything talks to 127.0.0.1 only. Each server runs in its own process group, started by
us and stopped by its PID (SIGTERM, then SIGKILL) even when a benchmark fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
RESULTS = WORK / "results"
HOST = "127.0.0.1"
MIB = 1024 * 1024


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# -- processes --------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                kids.extend(int(x) for x in text.split())
    return kids


def process_tree(pid: int) -> list[int]:
    """The PID and all its descendants (gunicorn workers, Kolibri's helpers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclasses.dataclass
class Memory:
    rss_mib: float      # sum of VmRSS over the process tree
    pss_mib: float      # sum of PSS: shared pages counted once (fair for several workers)
    processes: int

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def memory(pid: int) -> Memory:
    pids = process_tree(pid)
    rss = sum(_status_kib(p, "VmRSS") for p in pids)
    pss = sum(_pss_kib(p) for p in pids)
    return Memory(round(rss / 1024, 1), round(pss / 1024, 1), len(pids))


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of the process tree so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


class Server:
    """A web server we start and stop ourselves, by PID, in its own process group."""

    def __init__(self, name: str, argv: Sequence[str], port: int,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 log_file: Path | None = None, stop_signal: int = signal.SIGTERM) -> None:
        self.name = name
        self.stop_signal = stop_signal
        self.argv = list(argv)
        self.port = port
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd or ROOT
        self.log_file = log_file or WORK / "logs" / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.launched_at = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        out = self.log_file.open("ab")
        out.write(f"\n==== {time.ctime()} {' '.join(self.argv)}\n".encode())
        out.flush()
        self.launched_at = time.perf_counter()
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        out.close()

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_file.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                               f"log {self.log_file}:\n{tail}")

    def wait_listening(self, timeout: float = 120) -> float:
        """Seconds from launch until the port accepts a TCP connection (no HTTP sent)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self._check_alive()
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 0.2):
                return time.perf_counter() - self.launched_at
            time.sleep(0.01)
        raise TimeoutError(f"{self.name} did not listen on port {self.port} in {timeout} s")

    def wait_first_200(self, path: str = "/", timeout: float = 120) -> float:
        """Seconds from launch until GET `path` (following redirects) answers 200."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self._check_alive()
            try:
                status = Client(self.port, timeout=5).get(path, follow=True).status
            except OSError:
                time.sleep(0.01)
                continue
            if status == 200:
                return time.perf_counter() - self.launched_at
            time.sleep(0.01)
        raise TimeoutError(f"{self.name} gave no 200 on {path} in {timeout} s")

    def memory(self) -> Memory:
        return memory(self.pid)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, self.stop_signal)  # our child leads its own group: pgid == pid
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- HTTP client ------------------------------------------------------------------------

@dataclasses.dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """A keep-alive HTTP/1.1 client for one user: its own connection and cookie jar."""

    def __init__(self, port: int, timeout: float = 60) -> None:
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._conn: http.client.HTTPConnection | None = None

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, follow: bool = False) -> Reply:
        for _hop in range(10):
            hdrs = {"Host": f"{HOST}:{self.port}", "Accept-Language": "fr-CA,fr;q=0.9"}
            hdrs.update(headers or {})
            if self.cookies:
                hdrs["Cookie"] = self.cookie_header()
            for attempt in (0, 1):
                conn = self._connection()
                try:
                    conn.request(method, path, body=body, headers=hdrs)
                    resp = conn.getresponse()
                    data = resp.read()
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError,
                        BrokenPipeError, http.client.CannotSendRequest):
                    self.close()  # the server closed a kept-alive connection: reconnect once
                    if attempt:
                        raise
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie":
                    self._store_cookie(value)
            reply = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data,
                          path)
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            if follow and reply.status in (301, 302, 303, 307, 308):
                location = urlsplit(urljoin(f"http://{HOST}:{self.port}{path}",
                                            reply.headers.get("location", "/")))
                path = location.path + (f"?{location.query}" if location.query else "")
                method, body = "GET", None
                continue
            return reply
        raise RuntimeError(f"too many redirects from {path}")

    def _store_cookie(self, value: str) -> None:
        first = value.split(";", 1)[0]
        name, _, val = first.partition("=")
        expired = re.search(r"(?i)max-age=0\b|expires=thu, 01[- ]jan[- ]1970", value)
        if expired or val == "" or val == '""':
            self.cookies.pop(name.strip(), None)
        else:
            self.cookies[name.strip()] = val.strip()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post_json(self, path: str, data: Any, headers: Mapping[str, str] | None = None
                  ) -> Reply:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        return self.request("POST", path, json.dumps(data).encode(), hdrs)


# -- wrk --------------------------------------------------------------------------------

WRK_HELP = ("wrk is needed to generate the load (a small C program, not a test dependency): "
            "install it with `sudo apt-get install wrk` (Debian/Ubuntu).")


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(WRK_HELP)
    return path


_LUA = r"""
-- Generated by bench/common.py: rotate the students' cookies over the paths, stop after
-- a bounded number of responses per thread, count non-200 answers.
local cookies = {%(cookies)s}
local paths = {%(paths)s}
local threads = {}
local tid = 0
function setup(thread)
  thread:set("id", tid)
  tid = tid + 1
  table.insert(threads, thread)
end
function init(args)
  limit = tonumber(args[1]) or 0
  nthreads = tonumber(args[2]) or 1
  i = id
  seen = 0
  bad = 0
  reqs = {}
  for c = 1, #cookies do
    reqs[c] = {}
    for p = 1, #paths do
      reqs[c][p] = wrk.format("GET", paths[p], {["Cookie"] = cookies[c],
                                                  ["Accept-Language"] = "fr-CA,fr;q=0.9"})
    end
  end
end
function request()
  i = i + nthreads
  local c = (i %% #cookies) + 1
  local p = (math.floor(i / #cookies) %% #paths) + 1
  return reqs[c][p]
end
function response(status, headers, body)
  seen = seen + 1
  if status ~= 200 then bad = bad + 1 end
  if limit > 0 and seen == limit then
    io.write("BENCHTHREADDONE\n")
    io.flush()
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + t:get("bad") end
  io.write(string.format(
    "BENCHJSON {\"requests\": %%d, \"duration_us\": %%d, \"bytes\": %%d, " ..
    "\"p50_us\": %%d, \"p95_us\": %%d, \"p99_us\": %%d, \"max_us\": %%d, \"mean_us\": %%d, " ..
    "\"non200\": %%d, \"err_connect\": %%d, \"err_read\": %%d, \"err_write\": %%d, " ..
    "\"err_timeout\": %%d}\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean, bad_total, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
"""


def _lua_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclasses.dataclass
class LoadResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    non200: int
    errors: int
    wrk_cpu_pct: float      # the load generator's CPU use, in % of one core
    server_cpu_pct: float   # the server's CPU use, in % of one core
    cpu_ms_per_request: float  # server CPU per request: steadier than req/s on a busy machine

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run_wrk(port: int, cookies: Sequence[str], paths: Sequence[str], *,
            duration: float = 10, connections: int = 30, threads: int = 2,
            limit: int = 0, server_pid: int | None = None) -> LoadResult:
    """Closed-loop load: `connections` keep-alive connections, each request with the next
    student's cookie. Stops after `duration` seconds or `limit` responses, whichever first."""
    wrk = require_wrk()
    WORK.mkdir(parents=True, exist_ok=True)
    script = WORK / f"load-{port}.lua"
    script.write_text(_LUA % {"cookies": ", ".join(_lua_str(c) for c in cookies),
                              "paths": ", ".join(_lua_str(p) for p in paths)})
    per_thread = (limit + threads - 1) // threads if limit else 0
    dur = max(1, round(duration))
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{dur}s", "--timeout", "30s",
            "-s", str(script), f"http://{HOST}:{port}{paths[0]}", "--",
            str(per_thread), str(threads)]
    cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # wrk's main thread sleeps for the whole -d even when every thread has stopped at its
    # limit; each thread says so on stdout and we then interrupt wrk (SIGINT to its PID),
    # which makes it join its threads and print the summary.
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    finished = 0
    try:
        assert proc.stdout is not None
        for ln in proc.stdout:
            lines.append(ln)
            if ln.startswith("BENCHTHREADDONE"):
                finished += 1
                if finished == threads:
                    proc.send_signal(signal.SIGINT)
        proc.wait(timeout=dur + 120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read() if proc.stderr else ""
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu1 = cpu_seconds(server_pid) if server_pid else 0.0
    stdout = "".join(lines)
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {stdout}\n{stderr}")
    data = json.loads(line[len("BENCHJSON "):])
    seconds = data["duration_us"] / 1e6
    wrk_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    errors = sum(data[k] for k in ("err_connect", "err_read", "err_write", "err_timeout"))
    return LoadResult(
        requests=data["requests"], seconds=round(seconds, 2),
        rps=round(data["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=round(data["p50_us"] / 1000, 1), p95_ms=round(data["p95_us"] / 1000, 1),
        p99_ms=round(data["p99_us"] / 1000, 1), max_ms=round(data["max_us"] / 1000, 1),
        non200=data["non200"], errors=errors,
        wrk_cpu_pct=round(100 * wrk_cpu / wall, 1),
        server_cpu_pct=round(100 * (cpu1 - cpu0) / wall, 1) if server_pid else 0.0,
        cpu_ms_per_request=round(1000 * (cpu1 - cpu0) / data["requests"], 2)
        if server_pid and data["requests"] else 0.0)


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


# -- page weight ------------------------------------------------------------------------

# What a front nginx compresses (gzip_types): text, scripts, styles, JSON, SVG, fonts
# that are not compressed already. Images, woff2, audio and video go as they are.
COMPRESSIBLE = re.compile(r"^(text/|application/(javascript|x-javascript|json|xml|"
                          r"manifest\+json|vnd\.ms-fontobject|x-font-ttf)|image/svg\+xml|"
                          r"font/(ttf|otf))")


def gzip_size(body: bytes, content_type: str) -> int:
    """Bytes on the wire for this body behind nginx with gzip on (level 6, gzip_types above)."""
    if COMPRESSIBLE.match(content_type.split(";")[0].strip().lower()) and len(body) >= 20:
        return len(gzip.compress(body, compresslevel=6, mtime=0))
    return len(body)


@dataclasses.dataclass
class Resource:
    url: str
    content_type: str
    raw: int
    gz: int


def page_weight(base: str, path: str, cookies: Mapping[str, str],
                settle_ms: int = 1500) -> list[Resource]:
    """Open `path` in headless Chromium (Playwright, Debian's chromium), cold cache, with
    these cookies; every response the page loads (HTML, CSS, JS, fonts, images, and the
    API calls its scripts make) is counted, its body gzip-compressed as nginx would."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    seen: list[Any] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            context = browser.new_context(viewport={"width": 800, "height": 1280},
                                          locale="fr-CA", service_workers="block")
            context.add_cookies([{"name": k, "value": v, "url": base}
                                 for k, v in cookies.items()])
            page = context.new_page()
            page.on("response", lambda resp: seen.append(resp))
            page.goto(base + path, wait_until="networkidle", timeout=120_000)
            page.wait_for_timeout(settle_ms)
            out = []
            for resp in seen:
                if not resp.url.startswith(base):
                    continue
                try:
                    body = resp.body()
                except Exception:  # redirects have no body
                    body = b""
                ctype = resp.headers.get("content-type", "")
                out.append(Resource(resp.url[len(base):], ctype, len(body),
                                    gzip_size(body, ctype)))
            context.close()
        finally:
            browser.close()
    return out


# -- output -----------------------------------------------------------------------------

def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    if title:
        lines.append(f"\n{title}")
    lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True))
                 + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                     + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def save(name: str, data: Mapping[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `with server:` blocks stop what they started."""
    def _exit(_sig: int, _frame: Any) -> None:
        raise SystemExit(143)
    signal.signal(signal.SIGTERM, _exit)


@contextlib.contextmanager
def stopping(*servers: Server) -> Iterator[None]:
    try:
        yield
    finally:
        for s in servers:
            s.stop()
