"""The hub under cheroot (the WSGI server Kolibri ships), for the server comparison only.

Usage: serve_cheroot.py PORT THREADS. Settings come from ARDOISE_* variables.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from cheroot.wsgi import Server

from hub.app import create_app


def main() -> None:
    port, threads = int(sys.argv[1]), int(sys.argv[2])
    server = Server(("127.0.0.1", port), create_app(), numthreads=threads,
                    shutdown_timeout=1)

    def stop(_sig: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # safe_start() then stops the server

    signal.signal(signal.SIGTERM, stop)
    server.safe_start()


if __name__ == "__main__":
    main()
