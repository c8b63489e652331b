"""Debian arm64 packages unpacked without installing them (`mmdebstrap --variant=extract`),
kept in the build cache so the emulated test images start from files already on disk.

Nothing here runs arm64 code: the packages are only unpacked (no maintainer scripts), which
is why the kernel's modules come without `modules.dep` and the test initramfs resolves
module dependencies itself (see `image_builder.initramfs`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ardoise.i18n import N_
from image_builder.errors import BuildFailed
from image_builder.prereq import which

KERNEL_PACKAGES = ("linux-image-arm64",)
# Left out of unpacked trees: documentation, translations, Python's own test suite.
PRUNE = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
         "usr/share/lintian", "usr/lib/python3.11/test", "usr/lib/python3.11/idlelib",
         "usr/lib/python3.11/tkinter", "usr/lib/python3.11/ensurepip", "var/cache/apt",
         "var/lib/apt/lists")


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/ardoise-image`, else `~/.cache/ardoise-image`: outside the source
    tree, shared by builds and by the emulated tests."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ardoise-image"


def cache_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


@contextlib.contextmanager
def cache_lock(cache: Path, name: str) -> Iterator[None]:
    """One process fills a cache entry at a time; the others wait, then reuse it."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def unpack(packages: Sequence[str], dest: Path, suite: str, mirror: str) -> None:
    """Unpack `packages` and their dependencies for arm64 into `dest` (made from scratch)."""
    shutil.rmtree(dest, ignore_errors=True)
    argv = [which("mmdebstrap") or "mmdebstrap", "--quiet", "--variant=extract",
            "--architectures=arm64", f"--include={','.join(packages)}", suite, str(dest),
            f"deb {mirror} {suite} main"]
    res = subprocess.run(["nice", "-n", "10", *argv], capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        raise BuildFailed(N_("%(command)s failed: %(output)s"), command="mmdebstrap",
                          output=(res.stderr or res.stdout).strip()[-1500:])
    for rel in PRUNE:
        shutil.rmtree(dest / rel, ignore_errors=True)


def cached_unpack(cache: Path, name: str, packages: Sequence[str], suite: str,
                  mirror: str) -> Path:
    """`unpack` once per (packages, suite, mirror); the entry appears complete or not at
    all, so an interrupted run starts it again."""
    tree = cache / f"{name}-{cache_key(sorted(packages), suite, mirror)}"
    with cache_lock(cache, name):
        if not (tree / ".complete").is_file():
            tmp = tree.with_name(tree.name + ".tmp")
            unpack(packages, tmp, suite, mirror)
            (tmp / ".complete").write_text(json.dumps(sorted(packages)) + "\n")
            shutil.rmtree(tree, ignore_errors=True)
            tmp.rename(tree)
    return tree


@dataclass(frozen=True)
class Kernel:
    """The Debian arm64 kernel as unpacked: its image and its (un-indexed) modules."""

    version: str
    image: Path
    modules: Path  # lib/modules/<version>

    @classmethod
    def find(cls, tree: Path) -> Kernel:
        images = sorted((tree / "boot").glob("vmlinuz-*"))
        if not images:
            raise BuildFailed(N_("No kernel found in %(path)s."), path=str(tree / "boot"))
        version = images[-1].name.removeprefix("vmlinuz-")
        return cls(version, images[-1], tree / "lib/modules" / version)


def debian_kernel(cache: Path, suite: str, mirror: str) -> Kernel:
    return Kernel.find(cached_unpack(cache, "kernel", KERNEL_PACKAGES, suite, mirror))


__all__ = ["Kernel", "cache_key", "cache_lock", "cached_unpack", "debian_kernel",
           "default_cache_dir", "unpack"]
