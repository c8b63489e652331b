"""Runs one `ardoise pack pull` (or `install`) and kills itself with SIGKILL at a chosen
point: the power cut of the kill -9 matrix (tests/content_packs/test_crash.py).

    python -m tests.content_packs.crash_driver CONFIG POINT pull SOURCE
    python -m tests.content_packs.crash_driver CONFIG POINT install FOLDER

POINT names where the cut happens (the keys of `_install_points`); "none" runs to the
end. Cuts during the
download are made from outside (the test kills this process when enough bytes are on
disk), as nothing in this process knows when the kernel wrote them.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _after(target: Any, name: str, when: Callable[..., bool] = lambda *a, **k: True) -> None:
    """Kill right after `target.name` returns (when `when(*args)` holds)."""
    original = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            die()
        return result
    setattr(target, name, wrapper)


def _before(target: Any, name: str, when: Callable[..., bool] = lambda *a, **k: True) -> None:
    """Kill when `target.name` is called (when `when(*args)` holds), before it runs."""
    original = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if when(*args, **kwargs):
            die()
        return original(*args, **kwargs)
    setattr(target, name, wrapper)


def _verify_at(fraction: float) -> None:
    from content_packs import install

    original = install.verify_tree

    def verify(root: Path, manifest: Any, progress: Any = None, *, fsync: bool = False
               ) -> None:
        done = 0
        limit = manifest.total_bytes * fraction

        def counting(n: int) -> None:
            nonlocal done
            done += n
            if done >= limit:
                die()
            if progress is not None:
                progress(n)
        original(root, manifest, counting, fsync=fsync)
    install.verify_tree = verify


def _install_points() -> dict[str, Callable[[], None]]:
    from content_packs import install, pull, search

    def into_packs(src: Any, dst: Any) -> bool:
        return "/staging/" in str(src) and "/packs/" in str(dst)

    def count(n: int) -> Callable[..., bool]:
        calls = [0]

        def when(*_a: Any, **_k: Any) -> bool:
            calls[0] += 1
            return calls[0] == n
        return when

    return {
        "manifest": lambda: _after(pull, "read_signature"),
        "verify-start": lambda: _verify_at(0.0),
        "verify-half": lambda: _verify_at(0.5),
        "verify-end": lambda: _verify_at(1.0),
        "rename-before": lambda: _before(os, "rename", into_packs),
        "rename-after": lambda: _after(os, "rename", into_packs),
        "index": lambda: _after(search, "index_pack"),
        "commit-after": lambda: _before(install, "_point_current"),
        "link-swap": lambda: _before(os, "replace",
                                     lambda _s, d, **_k: str(d).endswith("/current")),
        "prune": lambda: _before(shutil, "rmtree", lambda p, **_k: "/discard-" in str(p)),
        "copy-third-file": lambda: _before(install, "_copy_verified", count(3)),
        "none": lambda: None,
    }



def main() -> None:
    config, point, command, target = sys.argv[1:5]
    points = _install_points()
    if point not in points:
        raise SystemExit(f"unknown point {point}")
    points[point]()

    from ardoise.cli import Context
    from content_packs.cli import pack_group

    obj = Context(Path(config), debug=True)
    args = [command, target] + (["essai"] if command == "pull" else [])
    try:
        pack_group.main(args, obj=obj, standalone_mode=False)
    except click.ClickException as exc:
        print(exc.format_message(), file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        obj.close()


if __name__ == "__main__":
    main()
