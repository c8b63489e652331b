"""The production web server for the hub (see docs/decisions.md for why waitress)."""

from __future__ import annotations

import logging

import waitress

from ardoise.settings import Settings
from hub.app import create_app


def run(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app(settings=settings)
    waitress.serve(app, host=host or settings.host, port=port or settings.port,
                   threads=settings.threads, ident="ardoise", clear_untrusted_proxy_headers=True)
