"""The production web server for the hub (see docs/decisions.md for why waitress)."""

from __future__ import annotations

import errno
import logging

import waitress

from ardoise.errors import Conflict
from ardoise.i18n import N_
from ardoise.settings import Settings
from hub.app import create_app


def run(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve until stopped; a port already taken is an error that says what to do."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app(settings=settings)
    host = host or settings.host
    port = port or settings.port
    try:
        server = waitress.create_server(app, host=host, port=port, threads=settings.threads,
                                        ident="ardoise", clear_untrusted_proxy_headers=True)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise Conflict(N_("Port %(port)s on %(host)s is already in use: stop the program "
                              "using it, or choose another port with --port or ARDOISE_PORT."),
                           port=port, host=host) from None
        raise
    server.run()
