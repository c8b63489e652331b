"""The hub's side of a round: push our frames, apply the central's as they stream in.

One HTTP request when little moves: it carries our knowledge, an acknowledgement of
the central's last transfer and our new frames (up to PUSH_BUDGET), and its answer
carries the central's frames. Frames are applied one by one as they arrive, so a cut
loses at most the frame in flight; the next round resumes both transfers from the last
acknowledgement. Every request has connect and read timeouts; `Backoff` spaces retries.
"""

from __future__ import annotations

import http.client
import json
import random
import ssl
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine, select

from ardoise.errors import ArdoiseError
from ardoise.i18n import N_, cli_locale
from sync import changes, frames, protocol, signing, transfer, vectors
from sync import instance as inst
from sync.registry import Registry
from sync.scope import Scope
from sync.tables import SyncInTransfer

if TYPE_CHECKING:  # cryptography is loaded where keys are used, not here
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROUND_PATH = "/api/v1/sync/round"
CLOCK_TOLERANCE_MS = 120_000
MAX_REQUESTS_PER_ROUND = 10_000


class SyncUnavailable(ArdoiseError, ConnectionError):
    """The central could not be reached or the link broke (retry later)."""

    status = 503
    code = "sync_unavailable"


class SyncRefused(ArdoiseError):
    """The central answered with an error (its message says why)."""

    code = "sync_refused"

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        self.status_code, self.remote_code, self.details_ = status, code, details
        self.reason = message  # in the language the request asked for (Accept-Language)
        super().__init__(N_("The central refused the sync: %(reason)s"), reason=message)


def accept_language(language: str) -> str:
    """The Accept-Language header for one of our languages ('fr_CA' -> 'fr-CA'); the
    central answers its errors in it. Empty: the terminal's language."""
    return (language or cli_locale()).replace("_", "-")


class Response(Protocol):
    status: int

    def read(self, n: int = -1) -> bytes: ...

    def getheader(self, name: str, default: str | None = None) -> str | None: ...


class Transport(Protocol):
    def post(self, path: str, body: bytes) -> Response: ...

    def close(self) -> None: ...


@dataclass
class HttpTransport:
    """HTTP(S) to the central, each request signed with the hub's key."""

    url: str
    hub_id: uuid.UUID
    key: Ed25519PrivateKey
    connect_timeout: float = 15.0
    read_timeout: float = 60.0
    clock: Callable[[], float] = time.time
    offset_s: float = 0.0
    rate_kbps: int = 0  # 0: no bound on our own traffic
    language: str = ""  # of whoever reads the central's errors ("": the terminal's)
    sleep: Callable[[float], None] = time.sleep
    bytes_sent: int = 0
    bytes_received: int = 0
    requests: int = 0
    _conn: http.client.HTTPConnection | None = None
    _started: float | None = None

    def pace(self) -> None:
        """Sleep as long as our average rate is above `rate_kbps` (a bandwidth cap)."""
        if not self.rate_kbps:
            return
        now = time.monotonic()
        if self._started is None:
            self._started = now
        due = (self.bytes_sent + self.bytes_received) * 8 / (self.rate_kbps * 1000)
        ahead = due - (now - self._started)
        if ahead > 0:
            self.sleep(ahead)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            parts = urllib.parse.urlsplit(self.url)
            host, port = parts.hostname or "", parts.port
            if parts.scheme == "https":
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    host, port, timeout=self.connect_timeout,
                    context=ssl.create_default_context())
            else:
                conn = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
            conn.connect()
            if conn.sock is not None:
                conn.sock.settimeout(self.read_timeout)
            self._conn = conn
        return self._conn

    def post(self, path: str, body: bytes) -> Response:
        base = urllib.parse.urlsplit(self.url).path.rstrip("/")
        full = base + path
        headers = signing.sign(self.key, self.hub_id, "POST", full, body,
                               now=self.clock() + self.offset_s)
        headers["Content-Type"] = "application/octet-stream"
        headers["Accept-Language"] = accept_language(self.language)
        try:
            conn = self._connection()
            conn.request("POST", full, body=body, headers=headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise SyncUnavailable(N_("The central is unreachable: %(reason)s"),
                                  reason=str(exc) or type(exc).__name__) from None
        self.requests += 1
        self.bytes_sent += len(body) + sum(len(k) + len(v) + 4 for k, v in headers.items())
        self.pace()
        return _Counting(response, self)

    def call(self, path: str, body: bytes) -> tuple[int, bytes]:
        """A signed POST whose whole answer is read (small exchanges: files)."""
        resp = self.post(path, body)
        return resp.status, resp.read()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _Counting:
    def __init__(self, inner: http.client.HTTPResponse, owner: HttpTransport) -> None:
        self._inner, self._owner = inner, owner
        self.status = inner.status

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._inner.read() if n < 0 else self._inner.read(n)
        except (OSError, http.client.HTTPException) as exc:
            self._owner.close()
            raise SyncUnavailable(N_("The link to the central broke: %(reason)s"),
                                  reason=str(exc) or type(exc).__name__) from None
        self._owner.bytes_received += len(data)
        self._owner.pace()
        return data

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self._inner.getheader(name, default)


@dataclass
class RoundStats:
    requests: int = 0
    pushed_rows: int = 0
    pulled_rows: int = 0
    pushed_frames: int = 0
    pulled_frames: int = 0
    central: uuid.UUID | None = None
    clock_offset_ms: int | None = None
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _read_exact(resp: Response, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = resp.read(n - len(out))
        if not chunk:
            raise SyncUnavailable(N_("The link to the central broke: %(reason)s"),
                                  reason="truncated answer")
        out += chunk
    return out


def error_of(resp: Response) -> SyncRefused:
    """The central's refusal, from its JSON error body."""
    raw = resp.read()
    try:
        err = json.loads(raw)["error"]
        return SyncRefused(resp.status, err.get("code", ""), err.get("message", ""),
                           err.get("details", {}))
    except (ValueError, KeyError, TypeError):
        return SyncRefused(resp.status, f"http_{resp.status}", raw[:200].decode(errors="replace"),
                           {})


def _last_pull(engine: Engine, central: uuid.UUID | None) -> dict[str, Any] | None:
    if central is None:
        return None
    t = SyncInTransfer.__table__
    with engine.connect() as conn:
        row = conn.execute(select(t.c.id, t.c.next_seq).where(t.c.peer == central)
                           .order_by(t.c.created_at.desc()).limit(1)).first()
    return None if row is None else {"id": row.id.bytes, "next": row.next_seq}


def sync_round(engine: Engine, registry: Registry, transport: Transport, scope: Scope,
               central: uuid.UUID | None, *, clock: inst.Clock = inst.DEFAULT_CLOCK,
               progress: Callable[[float | None, str], None] | None = None,
               push_budget: int = protocol.PUSH_BUDGET,
               pull_budget: int = protocol.PULL_BUDGET,
               health: dict[str, Any] | None = None) -> RoundStats:
    """Run requests until both directions are complete (or raise; the next call resumes)."""
    stats = RoundStats(central=central)
    with engine.begin() as conn:
        changes.adopt_unstamped(conn, registry, clock)
    for _ in range(MAX_REQUESTS_PER_ROUND):
        with engine.connect() as conn:
            local = inst.current(conn).instance
            mine = vectors.knowledge(conn, local, scope)
            out = transfer.pending(conn, central, scope) if central else None
            their = vectors.knowledge(conn, central, scope) if central else {}
            unseen = out is None and any(
                b.rows for b in protocol._first_rows(
                    changes.unseen(conn, registry, scope, their)))
        if out is None and unseen and central is not None:
            out = transfer.prepare(engine, registry, scope, their, central, clock)
        push_frames: list[bytes] = []
        if out is not None and not out.finished:
            with engine.connect() as conn:
                push_frames = list(transfer.out_frames(conn, out.id, out.acked + 1,
                                                       push_budget))
        header = {"proto": transfer.PROTOCOL, "schema": registry.schema_version,
                  "src": local.bytes, "scope": scope.key, "vec": vectors.to_wire(mine),
                  "push": {"id": out.id.bytes, "frames": out.frames} if push_frames and out
                  else None,
                  "pull": _last_pull(engine, central), "max": pull_budget}
        if health and stats.requests == 0:
            header["health"] = health
        body = protocol.pack_message(protocol.REQUEST_MAGIC, header, b"".join(push_frames))
        resp = transport.post(ROUND_PATH, body)
        stats.requests += 1
        if resp.status != 200:
            raise error_of(resp)
        size = protocol.LENGTH.unpack(_read_exact(resp, 8)[4:])[0]
        if size > protocol.MAX_HEADER:
            raise frames.FrameError(N_("A sync message header is truncated or too large."))
        head, _ = protocol.unpack_header(
            protocol.RESPONSE_MAGIC,
            protocol.RESPONSE_MAGIC + protocol.LENGTH.pack(size) + _read_exact(resp, size))
        central_now = head.get("time")
        if isinstance(central_now, int) and abs(central_now - clock.ms()) > CLOCK_TOLERANCE_MS:
            stats.clock_offset_ms = central_now - clock.ms()
            with engine.begin() as conn:
                inst.set_clock_offset(conn, stats.clock_offset_ms)
        src = head.get("src")
        if isinstance(src, bytes) and len(src) == 16:
            central = stats.central = uuid.UUID(bytes=src)
        acked = head.get("acked")
        if out is not None and isinstance(acked, dict) and acked.get("id") == out.id.bytes:
            with engine.begin() as conn:
                out = transfer.acknowledge(conn, out.id, int(acked["seq"]))
            stats.pushed_frames += len(push_frames)
            if out is not None and out.finished:
                stats.pushed_rows += out.rows
        pull = head.get("pull") or {}
        total, first = int(pull.get("frames", 0)), int(pull.get("from", 0))
        received = 0
        while first + received < total:
            envelope = resp.read(frames.ENVELOPE.size)
            if not envelope:
                break  # the answer ended (budget): ask for the rest
            if len(envelope) < frames.ENVELOPE.size:
                envelope += _read_exact(resp, frames.ENVELOPE.size - len(envelope))
            _t, _s, _l, length = frames.peek(envelope)
            data = envelope + _read_exact(resp, length - frames.ENVELOPE.size)
            applied = transfer.apply_frame(engine, registry, data, sender=central,
                                           allowed=scope, clock=clock)
            received += 1
            stats.pulled_frames += 1
            stats.pulled_rows += applied.stats.rows
            if progress is not None and total:
                progress((first + received) / total, "pull")
        vec = head.get("vec")
        if central is not None and vec is not None:
            theirs = vectors.from_wire(vec)
            with engine.begin() as conn:
                vectors.merge(conn, central, scope, theirs)
                if head.get("pull") is None:  # nothing we lack: we know what it knows
                    vectors.merge(conn, local, scope, theirs)
        push_done = out is None or out.finished
        pull_done = first + received >= total
        if push_done and pull_done:
            stats.done = True
            return stats
    return stats


@dataclass
class Backoff:
    """Jittered exponential backoff: 5 s, 10 s, 20 s ... up to `cap`, forever."""

    base: float = 5.0
    cap: float = 900.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        self.failures += 1
        ceiling = min(self.cap, self.base * (2 ** min(self.failures - 1, 30)))
        return self.rng.uniform(ceiling / 2, ceiling)  # "equal jitter"

    def reset(self) -> None:
        self.failures = 0


__all__ = ["ROUND_PATH", "Backoff", "HttpTransport", "RoundStats", "SyncRefused",
           "SyncUnavailable", "Transport", "accept_language", "error_of", "sync_round"]
