"""The opportunistic sync task that `ardoise agent` runs on a hub.

Every `sync_interval_minutes` (and at once on a "sync now" request, which also ignores
the time windows) it syncs with the central; when the central cannot be reached it
retries with jittered exponential backoff until it succeeds, the agent stops, or the
next scheduled run takes over (the backoff state carries over: retries go on for as
long as the agent runs). A refusal by the central is not retried: it needs a person,
and the status page shows its message.

The application provides what the engine cannot know: the registry of synced tables
(`use_registry`) and, optionally, a way to find the central on the local network
(`use_finder`, zeroconf in the hub). A central found that way is used only once it has
proved it holds the key the hub learned at enrollment (`hubside.check_central`).

Messages are in the hub's language (setting `language`): the pages show them as they are,
and the central is asked to answer in that language too.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine

from ardoise.errors import ArdoiseError, Invalid
from ardoise.i18n import N_, translate
from ardoise.settings import Settings
from sync import hubside, transfer
from sync.client import Backoff, SyncRefused, SyncUnavailable
from sync.registry import Registry

_registry: Callable[[], Registry] | None = None
_finder: Callable[[], str | None] | None = None


def use_registry(factory: Callable[[], Registry]) -> None:
    """Tell the engine which tables sync (the hub calls this when it is imported)."""
    global _registry
    _registry = factory


def use_finder(finder: Callable[[], str | None]) -> None:
    """A way to find the central's URL on the local network (zeroconf)."""
    global _finder
    _finder = finder


def parse_windows(text: str) -> list[tuple[dt.time, dt.time]]:
    """'00:00-06:00,12:00-13:00' -> time ranges (a range may wrap past midnight)."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            start, end = (dt.time.fromisoformat(x.strip()) for x in part.split("-"))
        except ValueError:
            raise Invalid(N_("Sync window %(window)s is not of the form HH:MM-HH:MM."),
                          window=part) from None
        out.append((start, end))
    return out


def in_windows(now: dt.time, windows: list[tuple[dt.time, dt.time]]) -> bool:
    if not windows:
        return True
    for start, end in windows:
        if (start <= now < end) if start <= end else (now >= start or now < end):
            return True
    return False


@dataclass
class SyncTask:
    """An AgentTask (see hardware.agent): name, run(ctx), schedule and requests."""

    settings: Settings
    name: str = "sync"
    requests: tuple[str, ...] = ("sync_now",)
    activity: str = "syncing"
    first_delay_seconds: float = 20.0
    backoff: Backoff = field(default_factory=Backoff)
    sleep: Callable[[float], None] = time.sleep
    local_time: Callable[[], dt.time] = field(default=lambda: dt.datetime.now().time())

    @property
    def interval_seconds(self) -> float:
        return float(self.settings.sync_interval_minutes * 60)

    def save_state(self) -> dict[str, Any]:
        """What carries over to the next run, which the agent starts in a new process."""
        return {"failures": self.backoff.failures}

    def load_state(self, state: dict[str, Any]) -> None:
        self.backoff.failures = int(state.get("failures", 0))

    def run(self, ctx: Any) -> dict[str, Any] | None:
        windows = parse_windows(self.settings.sync_windows)
        if not ctx.requested_by and not in_windows(self.local_time(), windows):
            return {"ok": True, "message": "outside the sync windows", "skipped": True}
        if _registry is None:
            return {"ok": False, "message": "no registry of synced tables"}
        with ctx.session() as s:
            engine = cast(Engine, s.get_bind())
        enrollment = hubside.enrollment(engine)
        lang = self.settings.language
        if enrollment is None:
            return {"ok": False, "message": translate(
                N_("This hub is not enrolled with a central: run 'ardoise sync enroll URL "
                   "TOKEN' with a token from the service centre."), lang)}
        data_dir = Path(self.settings.data_dir)
        url = self.settings.sync_central_url or None
        waited = 0.0
        while True:
            try:
                stats = hubside.sync_now(
                    engine, _registry(), data_dir, url=url,
                    health=_health(ctx), progress=ctx.progress,
                    rate_kbps=self.settings.sync_bandwidth_kbps, language=lang,
                    photo_max_px=self.settings.sync_photo_max_px)
            except SyncUnavailable as exc:
                if url is None and _finder is not None:
                    url = _found_central(engine, data_dir, lang)  # maybe on this network
                delay = self.backoff.next_delay()
                if ctx.stopping() or waited + delay > self.interval_seconds:
                    return {"ok": False, "message": exc.render(lang),
                            "retry_in_seconds": round(delay)}
                waited += delay
                if not _pause(delay, ctx, self.sleep):
                    return {"ok": False, "message": exc.render(lang)}
                continue
            except (SyncRefused, ArdoiseError) as exc:
                return {"ok": False, "message": exc.render(lang)}
            self.backoff.reset()
            transfer.maintenance(engine, transfer_days=self.settings.sync_transfer_days,
                                 audit_days=self.settings.sync_audit_days)
            return {"ok": True, "message": f"sent {stats.pushed_rows} rows, received "
                    f"{stats.pulled_rows}", "requests": stats.requests,
                    "rows_sent": stats.pushed_rows, "rows_received": stats.pulled_rows}


def _found_central(engine: Engine, data_dir: Path, language: str) -> str | None:
    """A central announcing itself on the local network that proves it is ours, or None
    (nothing of the hub's data is sent to another server)."""
    assert _finder is not None
    url = _finder()
    if not url:
        return None
    try:
        return hubside.check_central(engine, data_dir, url, language=language)
    except (ArdoiseError, SyncUnavailable):
        return None


def _health(ctx: Any) -> dict[str, Any] | None:
    try:
        return ctx.health_record()  # type: ignore[no-any-return]
    except Exception:  # health is a bonus: never fail a sync over it
        return None


def _pause(seconds: float, ctx: Any, sleep: Callable[[float], None]) -> bool:
    """Sleep in short steps; False when the agent is stopping."""
    end = seconds
    while end > 0:
        if ctx.stopping():
            return False
        step = min(end, 1.0)
        sleep(step)
        end -= step
    return not ctx.stopping()


def agent_tasks(settings: Settings) -> list[SyncTask]:
    """The tasks `ardoise agent` runs for sync: one, on a hub."""
    if settings.role != "hub" or _registry is None:
        return []
    return [SyncTask(settings)]


__all__ = ["SyncTask", "agent_tasks", "in_windows", "parse_windows", "use_finder",
           "use_registry"]
