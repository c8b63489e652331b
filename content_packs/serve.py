"""Serving a pack tree to the hubs with an rsync daemon (`ardoise pack serve`).

The daemon runs as the unprivileged user that owns the tree (no chroot, which needs root),
read-only, with a cap on simultaneous hubs so a burst of pulls cannot starve the central.
A stopped or restarted daemon costs the hubs nothing: they resume where they stopped.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
from pathlib import Path

from ardoise.errors import Invalid
from ardoise.i18n import N_

DEFAULT_MODULE = "packs"


def rsyncd_config(tree: Path, *, module: str = DEFAULT_MODULE, pid_file: Path | None = None,
                  log_file: Path | None = None, max_connections: int = 20,
                  timeout: int = 600) -> str:
    """The rsyncd.conf text serving `tree` read-only as `module`."""
    if not module.isidentifier():
        raise Invalid(N_("%(module)s is not a valid rsync module name (letters, digits, "
                         "underscores)."), module=module)
    lines = [
        "# Written by 'ardoise pack serve'.",
        "use chroot = no",
        f"max connections = {max_connections}",
        f"timeout = {timeout}",
        "reverse lookup = no",
        "transfer logging = no",
    ]
    if pid_file is not None:
        lines.append(f"pid file = {pid_file}")
        lines.append(f"lock file = {pid_file.with_suffix('.lock')}")
    lines.append(f"log file = {log_file}" if log_file is not None else "syslog facility = daemon")
    lines += [
        "",
        f"[{module}]",
        f"    path = {Path(tree).resolve()}",
        "    comment = Ardoise content packs",
        "    read only = yes",
        "    list = yes",
        "    munge symlinks = no",
        "    # packs are checked by hash and signature on each hub; refuse writes anyway",
        "    refuse options = delete remove-source-files",
        "    dont compress = *.mp4 *.m4v *.webm *.mp3 *.m4a *.ogg *.opus *.jpg *.jpeg *.png "
        "*.webp *.gif *.pdf *.zim *.zip *.gz *.xz *.zst *.epub *.docx *.odt",
        "",
    ]
    return "\n".join(lines)


def check_address(address: str) -> str:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise Invalid(N_("%(address)s is not an IP address to listen on."),
                      address=address) from None
    return address


def serve(tree: Path, *, address: str, port: int, workdir: Path,
          module: str = DEFAULT_MODULE, max_connections: int = 20) -> int:
    """Write the configuration into `workdir` and run `rsync --daemon` in the foreground
    until it stops (SIGTERM/SIGINT are passed on); returns its exit status."""
    tree = Path(tree)
    if not tree.is_dir():
        raise Invalid(N_("%(folder)s is not a folder."), folder=str(tree))
    if not 0 < port < 65536:
        raise Invalid(N_("%(port)s is not a port number."), port=port)
    check_address(address)
    if shutil.which("rsync") is None:
        raise Invalid(N_("rsync is not installed on this machine."))
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "rsyncd.conf"
    config.write_text(rsyncd_config(tree, module=module, pid_file=workdir / "rsyncd.pid",
                                    log_file=workdir / "rsyncd.log",
                                    max_connections=max_connections), encoding="utf-8")
    import sh  # only to run the daemon (see content_packs/rsync.py)

    process = sh.Command("rsync")("--daemon", "--no-detach", f"--config={config}",
                                  f"--address={address}", f"--port={port}",
                                  _bg=True, _bg_exc=False,
                                  _out=lambda _c: None, _err=lambda _c: None)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def forward(signum: int, _frame: object) -> None:
        if process.is_alive():
            os.kill(process.pid, signal.SIGTERM)

    for sig in previous:
        signal.signal(sig, forward)
    try:
        process.wait()
    except sh.ErrorReturnCode as exc:
        return exc.exit_code
    except sh.SignalException:
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


__all__ = ["DEFAULT_MODULE", "check_address", "rsyncd_config", "serve"]
