"""The rsync transport: one `rsync` process driven through the `sh` library.

Why rsync: it resumes a cut transfer from what already arrived (`--partial-dir`, kept
across runs, never a temp file thrown away), sends only the changed blocks of a file it
finds in a basis folder (`--link-dest`: the installed version; unchanged files are hard
linked, so they cost neither bytes on the link nor room on the card), caps its own rate
(`--bwlimit`) and gives up on a silent link (`--contimeout`, `--timeout`). Only files
that compress travel compressed: rsync 3.2+ ignores `--skip-compress` (its manual says
no compression method supports it), so a remote pull runs in two passes over the same
folder, compressible files with `--compress`, media and archives without. Progress comes
from `--info=progress2`.

The child gets SIGTERM when this process dies (PR_SET_PDEATHSIG), so a killed agent never
leaves an rsync writing into staging, and rsync keeps what it received in the partial
folder. Error exits become TransferFailed messages naming the source and the reason.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ardoise.errors import Invalid, StorageFull
from ardoise.i18n import N_
from content_packs.errors import TransferFailed

PARTIAL_DIR = ".rsync-partial"
# Suffixes not worth compressing: media, archives and documents that are compressed
# already (a ZIM archive is compressed inside, cluster by cluster).
SKIP_COMPRESS = (
    "3gp/7z/aac/apk/avi/avif/bz2/deb/docx/epub/flac/flv/gif/gz/heic/iso/jar/jpeg/jpg/lz/"
    "lz4/lzma/m4a/m4b/m4v/mkv/mov/mp3/mp4/mpeg/mpg/odp/ods/odt/oga/ogg/ogv/opus/pdf/png/"
    "pptx/rar/rpm/squashfs/tbz/tgz/txz/webm/webp/woff/woff2/xlsx/xz/zim/zip/zst")
_PR_SET_PDEATHSIG = 1
_PROGRESS = re.compile(r"^\s*([\d,.]+)\s+(\d+)%\s+\S+\s+\d+:\d\d:\d\d")
_STATS = {
    "bytes_received": re.compile(r"^Total bytes received:\s*([\d,.]+)", re.M),
    "bytes_sent": re.compile(r"^Total bytes sent:\s*([\d,.]+)", re.M),
    "literal_bytes": re.compile(r"^Literal data:\s*([\d,.]+)", re.M),
    "matched_bytes": re.compile(r"^Matched data:\s*([\d,.]+)", re.M),
    "files_transferred": re.compile(r"^Number of regular files transferred:\s*([\d,.]+)",
                                    re.M),
}


@dataclass(frozen=True)
class TransferOptions:
    """How a transfer may use the link."""

    bwlimit_kbps: int = 0  # kbit/s; 0: no cap
    connect_timeout: int = 30  # seconds to reach an rsync daemon
    io_timeout: int = 120  # seconds without data before giving up (resumed next time)
    compress: bool = True

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], bwlimit_kbps: int | None = None
                      ) -> TransferOptions:
        """The hub's settings, with a per-transfer bandwidth override."""
        cap = settings["pack_bandwidth_kbps"] if bwlimit_kbps is None else bwlimit_kbps
        if cap < 0:
            raise Invalid(N_("A bandwidth cap is a number of kbit/s, 0 for none."))
        return cls(bwlimit_kbps=int(cap),
                   connect_timeout=int(settings["pack_connect_timeout_seconds"]),
                   io_timeout=int(settings["pack_io_timeout_seconds"]))


@dataclass
class TransferStats:
    """What one rsync run moved: `bytes_received` is what crossed the link."""

    bytes_received: int = 0
    bytes_sent: int = 0
    literal_bytes: int = 0
    matched_bytes: int = 0
    files_transferred: int = 0
    seconds: float = 0.0

    def add(self, other: TransferStats) -> None:
        for name in ("bytes_received", "bytes_sent", "literal_bytes", "matched_bytes",
                     "files_transferred", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Output:
    """Collects rsync's output: progress lines end with \\r, the rest with \\n."""

    on_bytes: Callable[[int], None] | None
    stop: Callable[[], bool] | None
    buffer: str = ""
    text: list[str] = field(default_factory=list)
    process: Any = None
    stopped: bool = False

    def feed(self, chunk: str) -> None:
        self.buffer += chunk
        while True:
            cut = min((i for i in (self.buffer.find("\r"), self.buffer.find("\n")) if i >= 0),
                      default=-1)
            if cut < 0:
                break
            line, self.buffer = self.buffer[:cut], self.buffer[cut + 1:]
            self._line(line)
        if self.stop is not None and not self.stopped and self.stop() and self.process:
            self.stopped = True
            self.process.signal(signal.SIGTERM)

    def _line(self, line: str) -> None:
        match = _PROGRESS.match(line)
        if match:
            if self.on_bytes is not None:
                self.on_bytes(_number(match.group(1)))
            return
        if line.strip():
            self.text.append(line)
            del self.text[:-200]


def _number(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text) or 0)


def parse_progress(line: str) -> int | None:
    """Bytes done from one `--info=progress2` line, None for other lines."""
    match = _PROGRESS.match(line)
    return _number(match.group(1)) if match else None


def parse_stats(text: str) -> TransferStats:
    stats = TransferStats()
    for name, regex in _STATS.items():
        match = regex.search(text)
        if match:
            setattr(stats, name, _number(match.group(1)))
    return stats


def check_url(url: str) -> str:
    """An rsync daemon address, rsync://host[:port]/module[/path]: refuses anything else
    (a remote shell "host:path" would start ssh; a leading dash would be an option)."""
    parts = urlsplit(url)
    if (parts.scheme != "rsync" or not parts.hostname or parts.query or parts.fragment
            or parts.username or not parts.path.strip("/")):
        raise Invalid(N_("%(url)s is not a pack source address: use "
                         "rsync://server[:port]/module or a folder."), url=url[:200])
    try:
        _ = parts.port
    except ValueError:
        raise Invalid(N_("%(url)s is not a pack source address: use "
                         "rsync://server[:port]/module or a folder."), url=url[:200]) from None
    return url


def _die_with_parent() -> None:
    """In the child: SIGTERM when the parent dies, so rsync keeps its partial file."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def bwlimit_argument(kbps: int) -> str:
    """rsync's --bwlimit in bytes per second ("b" suffix) from kbit/s."""
    return f"--bwlimit={max(1, kbps * 1000 // 8)}b"


def _suffix_patterns() -> list[str]:
    """Filter patterns matching the incompressible suffixes in any letter case."""
    def any_case(suffix: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in suffix)
    return [f"*.{any_case(s)}" for s in SKIP_COMPRESS.split("/")]


def build_arguments(source: str, dest: Path, options: TransferOptions, *,
                    link_dest: Sequence[Path] = (), only: Sequence[str] | None = None,
                    skip: Sequence[str] = (), checksum: bool = False, remote: bool = True,
                    files: str = "all") -> list[str]:
    """The rsync command line (without "rsync"). `only`: root-level names to transfer
    (the manifest and its signature, before the rest); `skip`: root-level names not to
    transfer. `files`: "all", "compressible" (sent compressed) or "incompressible" (the
    media and archives, sent as they are)."""
    # --modify-window=-1: times compared to the nanosecond, so two small files of the
    # same size written in the same second (manifests, signatures) are never mistaken for
    # one another by the quick check.
    args = ["-rltp", "--chmod=D755,F644", f"--partial-dir={PARTIAL_DIR}",
            "--modify-window=-1", "--info=progress2,stats2", "--no-inc-recursive",
            "--no-human-readable", f"--timeout={options.io_timeout}"]
    if remote:
        args.append(f"--contimeout={options.connect_timeout}")
    if files == "compressible":
        args += ["--compress", *(f"--exclude={p}" for p in _suffix_patterns())]
    elif files == "incompressible":
        args += ["--include=*/", *(f"--include={p}" for p in _suffix_patterns()),
                 "--exclude=*"]
    if options.bwlimit_kbps:
        args.append(bwlimit_argument(options.bwlimit_kbps))
    if checksum:
        args.append("--checksum")
    for basis in link_dest[:20]:
        args.append(f"--link-dest={Path(basis).resolve()}")
    args += [f"--exclude=/{name}" for name in skip]
    if only is not None:
        args += [f"--include=/{name}" for name in only] + ["--exclude=*"]
    args += ["--", source.rstrip("/") + "/", str(dest) + "/"]
    return args


def _failure(code: int, detail: str, source: str, options: TransferOptions
             ) -> Exception:
    detail = detail[-300:]
    if code == 35 or (code == 10 and "failed to connect" in detail):
        return TransferFailed(N_("Cannot reach the pack source %(source)s: %(detail)s"),
                              hint=N_("Check the network link and the address; the hub tries "
                                      "again later."), source=source, detail=detail)
    if code == 5:
        return TransferFailed(N_("The pack source %(source)s refused the request or did not "
                                 "answer like an rsync server: %(detail)s"),
                              source=source, detail=detail)
    if code == 12 or (code == 10 and ("reset by peer" in detail or "Broken pipe" in detail)):
        return TransferFailed(N_("The transfer from %(source)s broke off (the connection was "
                                 "cut, or the source sent something that is not rsync): "
                                 "%(detail)s. What arrived is kept: the next attempt resumes "
                                 "the download."), source=source, detail=detail)
    if code in (2, 4, 13, 14):
        return TransferFailed(N_("The pack source %(source)s answered something this hub "
                                 "cannot read (rsync error %(code)s): %(detail)s"),
                              source=source, code=code, detail=detail)
    if code == 30:
        return TransferFailed(N_("The pack source %(source)s stopped sending for %(seconds)s "
                                 "seconds. What arrived is kept: the next attempt resumes "
                                 "the download."), source=source,
                              seconds=options.io_timeout)
    if code in (20, -15, 143):
        return TransferFailed(N_("The download from %(source)s was interrupted. What arrived "
                                 "is kept: the next attempt resumes it."), source=source)
    if code == 11 and "No space left" in detail:
        return StorageFull(N_("The card is full: the download from %(source)s stopped."),
                           source=source)
    if code in (23, 24):
        return TransferFailed(N_("Some files could not be downloaded from %(source)s: "
                                 "%(detail)s"), source=source, detail=detail)
    return TransferFailed(N_("The download from %(source)s failed (rsync error %(code)s): "
                             "%(detail)s"), source=source, code=code, detail=detail)


def _detail(text: list[str]) -> str:
    lines = [t.strip() for t in text if t.strip() and not t.startswith(
        ("Number of", "Total ", "Literal data", "Matched data", "File list", "sent ",
         "total size"))]
    errors = [t for t in lines if t.startswith(("rsync:", "@ERROR", "rsync error"))
              or "timeout" in t]
    chosen = errors[:1] or lines[-1:]
    return chosen[0] if chosen else ""


def run_rsync(source: str, dest: Path, options: TransferOptions, *,
              link_dest: Sequence[Path] = (), only: Sequence[str] | None = None,
              skip: Sequence[str] = (), checksum: bool = False,
              on_bytes: Callable[[int], None] | None = None,
              stop: Callable[[], bool] | None = None) -> TransferStats:
    """Copy the folder `source` (rsync:// address or local folder) into `dest`. With
    `only` (a few small files), contents are compared, not sizes and times.

    `on_bytes(n)`: bytes of file data done so far (from progress2). `stop()`: polled as
    output arrives; True ends the transfer (SIGTERM, partial data kept). Raises
    TransferFailed (or StorageFull) with rsync's own reason on failure."""
    remote = source.startswith("rsync://")
    if remote:
        check_url(source)
    elif not Path(source).is_dir():
        raise TransferFailed(N_("The pack source %(source)s is not a folder (is the USB "
                                "stick still there?)."), source=source)
    if shutil.which("rsync") is None:
        raise TransferFailed(N_("rsync is not installed on this machine."),
                             hint=N_("Install the Debian package rsync."), source=source)
    Path(dest).mkdir(parents=True, exist_ok=True)
    passes = (["compressible", "incompressible"] if remote and options.compress
              and only is None else ["all"])
    total = TransferStats()
    offset = 0
    for files in passes:
        seen = 0

        def counted(n: int, offset: int = offset) -> None:
            nonlocal seen
            seen = n
            if on_bytes is not None:
                on_bytes(offset + n)

        args = build_arguments(source, Path(dest), options, link_dest=link_dest, only=only,
                               skip=skip, checksum=checksum or only is not None,
                               remote=remote, files=files)
        total.add(_run_once(args, source, options, counted, stop))
        offset += seen
    if only is None:  # leftovers of files no longer on offer
        remove_partials(Path(dest))
    return total


def remove_partials(folder: Path) -> None:
    """Remove rsync's partial folders (one per folder of the transfer)."""
    for root, dirs, _names in os.walk(folder):
        if PARTIAL_DIR in dirs:
            shutil.rmtree(Path(root) / PARTIAL_DIR, ignore_errors=True)
            dirs.remove(PARTIAL_DIR)


def _run_once(args: list[str], source: str, options: TransferOptions,
              on_bytes: Callable[[int], None], stop: Callable[[], bool] | None
              ) -> TransferStats:
    output = _Output(on_bytes, stop)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    started = time.monotonic()
    import sh  # only to run rsync: the web process imports this module through the catalogue

    process = sh.Command("rsync")(
        *args, _bg=True, _bg_exc=False, _out=output.feed, _err=output.feed,
        _out_bufsize=0, _err_bufsize=0, _env=env, _preexec_fn=_die_with_parent,
        _decode_errors="replace")
    output.process = process
    try:
        process.wait()
    except sh.ErrorReturnCode as exc:
        output.feed("\n")
        raise _failure(exc.exit_code, _detail(output.text), source, options) from None
    except sh.SignalException as exc:  # rsync itself was killed
        raise _failure(20, _detail(output.text), source, options) from exc
    except BaseException:
        if process.is_alive():
            process.signal(signal.SIGTERM)
            process.wait()
        raise
    output.feed("\n")
    stats = parse_stats("\n".join(output.text))
    stats.seconds = time.monotonic() - started
    return stats


__all__ = [
    "PARTIAL_DIR",
    "SKIP_COMPRESS",
    "TransferOptions",
    "TransferStats",
    "build_arguments",
    "bwlimit_argument",
    "check_url",
    "parse_progress",
    "parse_stats",
    "run_rsync",
]
