"""The production web server for the hub (see docs/decisions.md for why waitress)."""

from __future__ import annotations

import ctypes
import errno
import logging

import waitress

from ardoise.errors import Conflict
from ardoise.i18n import N_
from ardoise.settings import Settings
from hub.app import create_app

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


def run(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve until stopped; a port already taken is an error that says what to do."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # waitress warns "Task queue depth is N" whenever requests wait for a free thread: with
    # a class of 30 that is nearly every request (100,000 lines in a 30,000-request run),
    # written under the dispatcher's lock and into the journal on the SD card.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    tune_malloc()
    app = create_app(settings=settings)
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
    server.run()
