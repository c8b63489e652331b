"""The production web server for the hub (see docs/decisions.md for why waitress).

The serving process stays small and starts fast (docs/decisions.md, "The web process stays
small"): it checks the schema's revision with one query and, only when the database is
behind, migrates in a child process (`ardoise db upgrade`), so it never imports Alembic.
`run` imports the app itself with the cyclic garbage collector paused, then freezes what
it loaded (`settle_memory`): some 145,000 container objects that live as long as the process.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import logging
import subprocess
import typing
from collections.abc import Sequence
from pathlib import Path

import waitress

from ardoise.errors import ArdoiseError, Conflict
from ardoise.i18n import N_
from ardoise.settings import Settings
from hub.central.announce import announced

# glibc mallopt() parameters (malloc.h)
M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024


def tune_malloc() -> bool:
    """Keep the web process's memory flat under load (docs/decisions.md, "Memory of the
    web process").

    By default glibc gives each worker thread its own malloc arena and, after the first
    large block is freed, raises the size above which blocks are mmap()ed. The 8 MiB that
    each argon2 code check allocates then stays resident in every thread's arena: +64 MiB
    once a class of 30 has signed in. One arena and a fixed 128 KiB threshold hand such
    blocks back to the system when freed. Must run before the server starts its threads.
    Returns False where the C library is not glibc (nothing to tune).
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    arenas = mallopt(M_ARENA_MAX, 1)
    threshold = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    return bool(arenas and threshold)


class MigrationFailed(ArdoiseError):
    status = 500
    code = "migration_failed"


def ensure_schema(settings: Settings, migrate: Sequence[str]) -> None:
    """Bring the database to the current schema before serving: nothing to do (one query)
    when it already is, else run the `migrate` command (`ardoise db upgrade`) in a child
    process and check again."""
    from ardoise.db import make_engine
    from hub.db import schema_is_current

    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url_resolved)
    try:
        if schema_is_current(engine):
            return
        done = subprocess.run(list(migrate), stdout=subprocess.DEVNULL, check=False)
        if done.returncode != 0 or not schema_is_current(engine):
            raise MigrationFailed(N_("The database could not be brought up to date (see the "
                                     "message above); run 'ardoise db upgrade' to retry."))
    finally:
        engine.dispose()


def settle_memory() -> None:
    """Once the app is built: give back what importing it left free, and keep the
    collector off the objects that live as long as the process.

    `typing.clear_overloads()` drops the @overload stubs Python 3.11 keeps for
    `typing.get_overloads()` (hundreds in SQLAlchemy), `malloc_trim` returns freed heap
    pages, and `gc.freeze()` moves the app's objects out of the collector's generations,
    so the full collections that requests trigger do not walk them again. No collection
    first: it took 70 ms of the start (more on a Pi) to find some 560 garbage objects.
    """
    typing.clear_overloads()
    gc.freeze()
    gc.enable()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to return
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def run(settings: Settings, host: str | None = None, port: int | None = None,
        migrate: Sequence[str] = ()) -> None:
    """Serve until stopped; a port already taken is an error that says what to do.
    `migrate`, when given, is the command that brings an outdated database up to date."""
    gc.disable()  # until settle_memory(), once the app is built (see the module docstring)
    if migrate:
        ensure_schema(settings, migrate)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # waitress warns "Task queue depth is N" whenever requests wait for a free thread: with
    # a class of 30 that is nearly every request (100,000 lines in a 30,000-request run),
    # written under the dispatcher's lock and into the journal on the SD card.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    tune_malloc()
    from hub.app import create_app

    app = create_app(settings=settings)
    settle_memory()
    host = host or settings.host
    port = port or settings.port
    try:
        # nginx on the same device forwards each tablet's address; trust only it, so the
        # per-address sign-in limit counts tablets, not the proxy.
        server = waitress.create_server(app, host=host, port=port, threads=settings.threads,
                                        ident="ardoise", trusted_proxy="127.0.0.1",
                                        trusted_proxy_count=1,
                                        trusted_proxy_headers={"x-forwarded-for"},
                                        clear_untrusted_proxy_headers=True)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise Conflict(N_("Port %(port)s on %(host)s is already in use: stop the program "
                              "using it, or choose another port with --port or ARDOISE_PORT."),
                           port=port, host=host) from None
        raise
    with announced(settings):  # a central says where it is on the local network
        server.run()
