"""A link emulator on loopback: a TCP proxy that paces, delays and cuts.

Each direction is a shared link of `rate_bps` bits per second; every chunk leaves after
the link is free and arrives `rtt/2` later. `cut()` drops every connection at once;
`cut_after(n)` does it when n more bytes have crossed (both directions). Byte counters
say what crossed the wire. Used by the end-to-end tests and the benchmarks.
"""

from __future__ import annotations

import contextlib
import heapq
import re
import socket
import threading
import time
from dataclasses import dataclass, field

CHUNK = 1024
REQUEST_LINE = re.compile(rb"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP/1\.[01]\r\n")


@dataclass
class Direction:
    rate_bps: float
    delay: float
    free_at: float = 0.0
    bytes: int = 0
    requests: int = 0  # HTTP request lines seen (client to server direction)
    first_at: float | None = None
    last_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def schedule(self, size: int) -> float:
        """When a chunk of `size` bytes arrives at the other end."""
        with self.lock:
            now = time.monotonic()
            self.first_at = now if self.first_at is None else self.first_at
            start = max(now, self.free_at)
            self.free_at = start + (size * 8 / self.rate_bps if self.rate_bps else 0)
            self.bytes += size
            self.last_at = self.free_at + self.delay
            return self.last_at


class LinkEmulator:
    def __init__(self, target_port: int, *, rate_bps: float = 256_000, rtt: float = 0.6,
                 host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self.up = Direction(rate_bps, rtt / 2)  # client to server
        self.down = Direction(rate_bps, rtt / 2)
        self.connections = 0
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut_at: int | None = None
        self._accept = threading.Thread(target=self._serve, name="linkemu-accept")
        self._accept.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def total_bytes(self) -> int:
        return self.up.bytes + self.down.bytes

    def cut(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def cut_after(self, nbytes: int) -> None:
        self._cut_at = self.total_bytes + nbytes

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._accept.join(5)
        for t in list(self._threads):
            t.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self.connections += 1
            with self._lock:
                self._socks += [client, server]
            for src, dst, d in ((client, server, self.up), (server, client, self.down)):
                t = threading.Thread(target=self._pump, args=(src, dst, d), name="linkemu")
                self._threads.append(t)
                t.start()

    def _pump(self, src: socket.socket, dst: socket.socket, d: Direction) -> None:
        queue: list[tuple[float, int, bytes]] = []
        n = 0
        tail = b""
        src.settimeout(0.05)
        try:
            while not self._stop.is_set():
                try:
                    data = src.recv(CHUNK)
                    if not data:
                        break
                    if d is self.up:  # count requests, also across chunk boundaries
                        window = tail + data
                        with d.lock:
                            d.requests += len(REQUEST_LINE.findall(window))
                        cut = window.rfind(b"\r\n")
                        tail = window[cut + 2:][-200:] if cut >= 0 else window[-200:]
                    for i in range(0, len(data), CHUNK):
                        part = data[i:i + CHUNK]
                        heapq.heappush(queue, (d.schedule(len(part)), n, part))
                        n += 1
                except TimeoutError:
                    pass
                now = time.monotonic()
                while queue and queue[0][0] <= now:
                    _, _, part = heapq.heappop(queue)
                    dst.sendall(part)
                    if self._cut_at is not None and self.total_bytes >= self._cut_at:
                        self._cut_at = None
                        self.cut()
                        return
                if queue:
                    time.sleep(min(0.01, max(0.0, queue[0][0] - time.monotonic())))
            while queue:  # the sender closed: deliver what is in flight
                at, _, part = heapq.heappop(queue)
                time.sleep(max(0.0, at - time.monotonic()))
                dst.sendall(part)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


__all__ = ["LinkEmulator"]
