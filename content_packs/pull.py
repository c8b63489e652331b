"""Pulling a pack from a source (rsync daemon, folder, USB stick) and installing it.

1. `recover` the data folder (leftovers of a cut), pick the version on offer;
2. download its manifest and signature alone into data_dir/staging/pull-<id>@<version>/
   and check them (signature, the index's promise, id and version), refuse early when the
   card cannot hold the pack;
3. download the rest into the same folder, resuming what an earlier attempt left there,
   with the installed versions as the basis (unchanged files are hard linked, changed
   ones travel as deltas);
4. `install_staged`: every file checked against the manifest, hashed and flushed, then
   switched in atomically. A hash that does not match after a delta is fetched again
   once, comparing whole contents (`--checksum`), before the pack is refused.
A transfer that fails keeps what arrived (the next attempt resumes); a pack refused for
its content is removed from staging.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ardoise.errors import ArdoiseError, Conflict, NotFound
from ardoise.i18n import N_
from content_packs.catalog import InstalledPack
from content_packs.errors import FileDamaged, PackRefused, TransferFailed
from content_packs.install import (
    check_space,
    install_staged,
    pull_dir_name,
    read_signature,
    recover,
)
from content_packs.manifest import (
    MANIFEST_NAME,
    PACK_METADATA_FILES,
    SIGNATURE_NAME,
    Manifest,
    is_newer,
    read_manifest_bytes,
)
from content_packs.paths import pack_root, staging_root
from content_packs.rsync import PARTIAL_DIR, TransferOptions, TransferStats, run_rsync
from content_packs.signing import Trust
from content_packs.sources import Catalogue, FolderSource, Offer, RsyncSource

Source = RsyncSource | FolderSource
MAX_DEPENDENCY_DEPTH = 5


@dataclass
class PullProgress:
    """Where a pull stands: shown as a progress bar (CLI) and as status (web, agent)."""

    pack_id: str
    version: str
    source: str
    phase: str  # index, manifest, download, verify, install, done, failed
    done: int = 0
    total: int = 0
    rate: float = 0.0  # bytes per second, over the last seconds
    eta: float | None = None  # seconds left at that rate
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"pack": self.pack_id, "version": self.version, "source": self.source,
                "phase": self.phase, "done": self.done, "total": self.total,
                "rate": round(self.rate, 1),
                "eta": None if self.eta is None else round(self.eta), "message": self.message}


@dataclass
class PullResult:
    pack: InstalledPack
    stats: TransferStats
    resumed_bytes: int  # bytes found in staging from an earlier attempt
    installed: list[str] = field(default_factory=list)  # dependencies pulled first, then it


class RateMeter:
    """Bytes per second over a sliding window of samples."""

    def __init__(self, clock: Callable[[], float], window: float = 10.0) -> None:
        self.clock = clock
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, done: int) -> float:
        now = self.clock()
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.popleft()
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


@contextlib.contextmanager
def _hold(folder: Path) -> Iterator[None]:
    """Hold the pull folder: a second pull of the same version waits instead of mixing
    its files in; `recover` leaves a held folder alone."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(N_("Pack %(pack)s is already being downloaded."),
                           pack=folder.name) from None
        yield
    finally:
        os.close(fd)


def _drop(stage: Path) -> None:
    """Remove a pull folder, and staging/ with it when nothing else is there."""
    shutil.rmtree(stage, ignore_errors=True)
    with contextlib.suppress(OSError):
        stage.parent.rmdir()


def _staged_bytes(stage: Path, manifest: Manifest) -> int:
    """Bytes of the pack already in `stage`: complete files and partial ones."""
    total = 0
    for f in manifest.files:
        try:
            size = (stage / f.path).stat().st_size
        except OSError:
            continue
        total += min(size, f.size)
    for root, _dirs, names in os.walk(stage):
        if PARTIAL_DIR in Path(root).relative_to(stage).parts:
            for name in names:
                with contextlib.suppress(OSError):
                    total += (Path(root) / name).stat().st_size
    return total


def _prune_unlisted(stage: Path, manifest: Manifest) -> None:
    """Remove what an earlier attempt left that the manifest does not list (rsync's
    temporary files after a cut, files of an older manifest); keep partial downloads."""
    listed = {f.path for f in manifest.files} | PACK_METADATA_FILES
    for root, dirs, names in os.walk(stage, topdown=True):
        rel_root = Path(root).relative_to(stage)
        dirs[:] = [d for d in dirs if d != PARTIAL_DIR]  # rsync's, one in each folder
        for name in names:
            full = Path(root) / name
            if (rel_root / name).as_posix() not in listed or full.is_symlink():
                full.unlink()
        for d in list(dirs):
            if (Path(root) / d).is_symlink():
                (Path(root) / d).unlink()
                dirs.remove(d)


def _basis(session: Session, data_dir: Path, pack_id: str) -> list[Path]:
    """Installed versions of the pack, active first: rsync's basis for deltas."""
    rows = session.scalars(select(InstalledPack).where(InstalledPack.pack_id == pack_id)
                           .order_by(InstalledPack.active.desc(),
                                     InstalledPack.installed_at.desc()))
    return [p for p in (pack_root(data_dir, r.pack_id, r.version) for r in rows) if p.is_dir()]


def _check_offer(offer: Offer, raw: bytes, manifest: Manifest) -> None:
    if (manifest.id, manifest.version) != (offer.pack_id, offer.version):
        raise PackRefused(N_("Pack %(pack)s: the manifest at %(source)s is for %(found)s, not "
                             "for version %(version)s."), pack=offer.pack_id,
                          source=offer.source, found=f"{manifest.id} {manifest.version}",
                          version=offer.version)
    if offer.manifest_sha256 and hashlib.sha256(raw).hexdigest() != offer.manifest_sha256:
        raise PackRefused(N_("Pack %(pack)s: %(file)s is not the one the signed index of "
                             "%(source)s lists."), pack=offer.pack_id, file=MANIFEST_NAME,
                          source=offer.source)


def scan(source: Source, data_dir: Path, trust: Trust, options: TransferOptions
         ) -> Catalogue:
    """What `source` offers (its signed index, or the packs found in a folder)."""
    return source.scan(staging_root(Path(data_dir)), trust, options)


def pull_pack(session: Session, data_dir: Path, source: Source, pack_id: str,
              version: str | None = None, *, trust: Trust, options: TransferOptions,
              progress: Callable[[PullProgress], None] | None = None,
              stop: Callable[[], bool] | None = None,
              catalogue: Catalogue | None = None,
              clock: Callable[[], float] = time.monotonic, _depth: int = 0) -> PullResult:
    """Download `pack_id` (the newest version on offer, or `version`) from `source`,
    verify it and make it the active version; commits.

    Packs it requires that are not installed are pulled first from the same source.
    Raises PackRefused/ManifestError (content refused: staging cleaned), TransferFailed
    (link problem: what arrived is kept for the next attempt), StorageFull, Conflict
    (already installed), NotFound (not on offer)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda _p: None)
    recover(session, data_dir)
    if catalogue is None:
        report(PullProgress(pack_id, version or "", source.label, "index"))
        catalogue = scan(source, data_dir, trust, options)
    offer = catalogue.find(pack_id, version)
    if offer is None:
        raise NotFound(N_("%(source)s offers no pack %(pack)s%(version)s."),
                       source=source.label, pack=pack_id,
                       version=f" {version}" if version else "")
    if session.get(InstalledPack, (offer.pack_id, offer.version)) is not None:
        raise Conflict(N_("Pack %(pack)s version %(version)s is already installed."),
                       pack=offer.pack_id, version=offer.version)
    installed: list[str] = []
    total_stats = TransferStats()
    for dep in offer.requires:
        active = session.scalars(select(InstalledPack.version).where(
            InstalledPack.pack_id == dep.id, InstalledPack.active.is_(True))).first()
        if active is not None and not (dep.min_version and is_newer(dep.min_version, active)):
            continue
        if _depth >= MAX_DEPENDENCY_DEPTH or catalogue.find(dep.id) is None:
            raise PackRefused(N_("Pack %(pack)s needs pack %(dependency)s (version %(version)s "
                                 "or later), which is not installed."),
                              hint=N_("Install that pack first."), pack=offer.pack_id,
                              dependency=dep.id, version=dep.min_version or "1")
        sub = pull_pack(session, data_dir, source, dep.id, trust=trust, options=options,
                        progress=progress, stop=stop, catalogue=catalogue, clock=clock,
                        _depth=_depth + 1)
        installed += sub.installed
        total_stats.add(sub.stats)

    stage = staging_root(data_dir) / pull_dir_name(offer.pack_id, offer.version)
    stage.mkdir(parents=True, exist_ok=True)
    with _hold(stage):
        result = _pull_into(session, data_dir, stage, offer, trust, options, report, stop,
                            clock)
    total_stats.add(result.stats)
    result.stats = total_stats
    result.installed = [*installed, f"{offer.pack_id} {offer.version}"]
    return result


def _pull_into(session: Session, data_dir: Path, stage: Path, offer: Offer, trust: Trust,
               options: TransferOptions, report: Callable[[PullProgress], None],
               stop: Callable[[], bool] | None, clock: Callable[[], float]) -> PullResult:
    def status(phase: str, done: int = 0, total: int = 0, rate: float = 0.0,
               eta: float | None = None) -> None:
        report(PullProgress(offer.pack_id, offer.version, offer.source, phase, done, total,
                            rate, eta))

    def discard() -> None:
        _drop(stage)

    stats = TransferStats()
    status("manifest", total=offer.total_bytes)
    try:
        stats.add(run_rsync(offer.location, stage, options,
                            only=[MANIFEST_NAME, SIGNATURE_NAME], stop=stop))
        raw, manifest = read_manifest_bytes(stage)
        _check_offer(offer, raw, manifest)
        trust.check(manifest.id, raw, read_signature(stage))
    except TransferFailed:
        if not any(p for p in stage.iterdir() if p.name not in PACK_METADATA_FILES):
            discard()  # nothing worth resuming arrived
        raise
    except ArdoiseError:
        discard()
        raise
    _prune_unlisted(stage, manifest)
    resumed = _staged_bytes(stage, manifest)
    try:
        check_space(session, data_dir, manifest, already=resumed)
    except ArdoiseError:
        if not resumed:
            discard()
        raise
    basis = _basis(session, data_dir, manifest.id)
    session.commit()  # no read snapshot held open for the hours a thin link may take
    meter = RateMeter(clock)
    total = manifest.total_bytes

    def downloaded(done: int) -> None:
        shown = min(total, resumed + done)
        rate = meter.add(done)
        status("download", shown, total, rate, (total - shown) / rate if rate > 0 else None)

    status("download", resumed, total)
    metadata = [MANIFEST_NAME, SIGNATURE_NAME]  # checked above: never replaced below
    stats.add(run_rsync(offer.location, stage, options, link_dest=basis, skip=metadata,
                        on_bytes=downloaded, stop=stop))
    pack = _verify_and_install(session, data_dir, stage, raw, offer, options, basis, stats,
                               status)
    status("done", total, total)
    return PullResult(pack, stats, resumed)


def _verify_and_install(session: Session, data_dir: Path, stage: Path, raw: bytes,
                        offer: Offer, options: TransferOptions, basis: list[Path],
                        stats: TransferStats, status: Callable[..., None]) -> InstalledPack:
    total = offer.total_bytes
    for attempt in (1, 2):
        verified = 0

        def checked(n: int) -> None:
            nonlocal verified
            verified += n
            status("verify", verified, total)

        try:
            return install_staged(session, data_dir, stage, raw, progress=checked)
        except FileDamaged:
            if attempt == 2:
                _drop(stage)
                raise
        except ArdoiseError:  # extra or missing files, links, already installed...
            _drop(stage)
            raise
        # A file rsync judged unchanged by size and time differs: compare contents.
        status("download", 0, total)
        stats.add(run_rsync(offer.location, stage, options, link_dest=basis, checksum=True,
                            skip=[MANIFEST_NAME, SIGNATURE_NAME]))
    raise AssertionError("unreachable")


def newer_offers(session: Session, catalogue: Catalogue,
                 subscriptions: list[str] | None = None) -> list[Offer]:
    """The offers worth pulling: packs not installed, or newer than every installed
    version (a version rolled back from stays installed, so it is not pulled again)."""
    rows = list(session.execute(select(InstalledPack.pack_id, InstalledPack.version)))
    installed: dict[str, list[str]] = {}
    for pid, ver in rows:
        installed.setdefault(pid, []).append(ver)
    out = []
    for offer in catalogue.newest():
        if subscriptions and offer.pack_id not in subscriptions:
            continue
        have = installed.get(offer.pack_id, [])
        if all(is_newer(offer.version, v) for v in have):
            out.append(offer)
    return out


__all__ = [
    "PullProgress",
    "PullResult",
    "RateMeter",
    "newer_offers",
    "pull_pack",
    "scan",
]
