"""Stage-by-stage progress: a build prints where it is and how long each stage took."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Progress:
    def __init__(self, total: int, echo: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.echo, self.clock = total, echo, clock
        self.done = 0
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, cached: bool = False) -> Iterator[None]:
        self.done += 1
        prefix = f"[{self.done}/{self.total}] {name}"
        if cached:
            self.echo(f"{prefix}: cached")
            self.timings[name] = 0.0
            yield
            return
        self.echo(f"{prefix}...")
        start = self.clock()
        yield
        self.timings[name] = self.clock() - start
        self.echo(f"{prefix}: done ({self.timings[name]:.1f} s)")


__all__ = ["Progress"]
