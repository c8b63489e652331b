"""The agent's check that the web process answers: a GET on loopback, status line only."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hardware.collectors import SourceError, http_status


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path == "/api/v1/status?x=1" else 503
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_status_of_the_page(server: str) -> None:
    assert http_status(f"{server}/api/v1/status?x=1", 2.0) == 200
    assert http_status(f"{server}/elsewhere", 2.0) == 503


def test_nobody_listening_is_an_os_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free, and nobody listens on it
    with pytest.raises(OSError):
        http_status(f"http://127.0.0.1:{port}/api/v1/status", 1.0)


def test_an_answer_that_is_not_http_is_an_os_error() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        thread = threading.Thread(target=answer)
        thread.start()
        try:
            with pytest.raises(OSError, match="not an HTTP answer"):
                http_status(f"http://127.0.0.1:{listener.getsockname()[1]}/", 2.0)
        finally:
            thread.join()


def test_only_plain_http_is_checked() -> None:
    with pytest.raises(SourceError):
        http_status("https://127.0.0.1:8443/api/v1/status", 1.0)
