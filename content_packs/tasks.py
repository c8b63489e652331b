"""The agent's pack task: clean up after a cut, install what the technician queued (packs
found on a USB stick), then look for new versions at `pack_source` and pull them.

Plugged into the agent through `content_packs.agent_tasks(settings)`; it runs every
`pack_check_minutes` when a source is set, and at once on a "packs_now" request.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session

from ardoise import device
from ardoise.errors import ArdoiseError, Conflict
from ardoise.i18n import translate
from content_packs.errors import TransferFailed
from content_packs.install import recover
from content_packs.pull import PullProgress, newer_offers, pull_pack, scan
from content_packs.rsync import TransferOptions
from content_packs.signing import trust_from_settings
from content_packs.sources import FolderSource, open_source
from content_packs.status import REQUEST_KIND, TASK_NAME, StatusRecorder, take_queue


class Context(Protocol):
    """What the agent gives a running task (hardware.agent.TaskContext)."""

    settings: Any

    def session(self) -> AbstractContextManager[Session]: ...

    def progress(self, fraction: float | None, label: str = "") -> None: ...

    def stopping(self) -> bool: ...


class PackTask:
    """One agent task; see the module docstring."""

    name = TASK_NAME
    activity = "syncing"  # the yellow light: the hub is busy updating
    first_delay_seconds = 60.0

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        # Also without a source: each run repairs what a power cut left (cheap).
        self.interval_seconds = float(settings["pack_check_minutes"]) * 60
        self.requests = (REQUEST_KIND,) if REQUEST_KIND in device.REQUEST_KINDS else ()

    def run(self, ctx: Context) -> dict[str, Any] | None:
        settings = ctx.settings
        locale = str(settings["language"])
        data_dir = Path(settings["data_dir"])
        trust = trust_from_settings(settings)
        options = TransferOptions.from_settings(settings)

        def shown(p: PullProgress) -> None:
            label = f"{p.pack_id} {p.version}: {p.phase}"
            ctx.progress(p.done / p.total if p.total else None, label)

        recorder = StatusRecorder(ctx.session, also=shown)
        installed: list[str] = []
        failed: list[str] = []

        def attempt(pull: Callable[[Session], Any]) -> bool:
            """Run one pull; False when the link is down (no use trying the others)."""
            with ctx.session() as s:
                try:
                    result = pull(s)
                except Conflict:
                    return True  # installed meanwhile (CLI, another request)
                except ArdoiseError as exc:
                    message = exc.render(locale)
                    failed.append(message)
                    recorder.finish(False, message)
                    return not isinstance(exc, TransferFailed)
            installed.extend(result.installed)
            recorder.finish(True)
            return True

        with ctx.session() as s:
            recover(s, data_dir)
            jobs = take_queue(s)
            s.commit()
        for job in jobs:
            folder = FolderSource(Path(job["location"]))
            if ctx.stopping():
                break
            attempt(lambda s, folder=folder, job=job: pull_pack(
                s, data_dir, folder, job["pack"], job["version"], trust=trust,
                options=options, progress=recorder, stop=ctx.stopping))

        if settings["pack_source"] and not ctx.stopping():
            subscriptions = [p.strip() for p in str(settings["pack_subscriptions"]).split(",")
                             if p.strip()]
            try:
                source = open_source(str(settings["pack_source"]))
                catalogue = scan(source, data_dir, trust, options)
            except ArdoiseError as exc:
                failed.append(exc.render(locale))
            else:
                with ctx.session() as s:
                    offers = newer_offers(s, catalogue, subscriptions or None)
                for offer in offers:
                    if ctx.stopping() or not attempt(
                            lambda s, offer=offer: pull_pack(
                                s, data_dir, source, offer.pack_id, offer.version,
                                trust=trust, options=options, progress=recorder,
                                stop=ctx.stopping, catalogue=catalogue)):
                        break
        if failed:
            return {"ok": False, "message": " ".join(failed)[:1900], "installed": installed}
        if installed:
            return {"ok": True, "message": translate("Installed: %(packs)s.", locale,
                                                     packs=", ".join(installed)),
                    "installed": installed}
        return None


def agent_tasks(settings: Any) -> list[PackTask]:
    """The tasks this package plugs into the agent (hardware.runtime.plugin_tasks)."""
    return [PackTask(settings)]


__all__ = ["PackTask", "agent_tasks"]
