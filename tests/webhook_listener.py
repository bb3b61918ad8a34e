"""A real HTTP listener on 127.0.0.1 for webhook tests: records every POST (path, headers,
body, time) and answers each with the next status of a script (200 once the script is spent)."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Listener:
    url: str
    """``http://127.0.0.1:<port>``."""
    statuses: list[int] = field(default_factory=list)
    """Answers still to give, in order."""
    received: list[Received] = field(default_factory=list)


@contextmanager
def webhook_listener(*statuses: int, host: str = "127.0.0.1") -> Iterator[Listener]:
    """A listener on ``host`` (``::1`` for IPv6) answering ``statuses`` in turn, then 200,
    until the block ends."""
    listener = Listener(url="", statuses=list(statuses))
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                listener.received.append(Received(self.path, dict(self.headers.items()),
                                                  body, time.monotonic()))
                status = listener.statuses.pop(0) if listener.statuses else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output clean."""

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = Server((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    listener.url = f"http://{f'[{host}]' if ':' in host else host}:{server.server_address[1]}"
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def trickling_listener(every: float = 0.2, *,
                       start: bytes = b"HTTP/1.1 200 OK\r\nX-Slow: ") -> Iterator[str]:
    """A listener (its ``127.0.0.1:<port>``) that reads what comes, sends ``start`` (a status
    line and the start of a header; or a TLS record's header), then one byte every ``every``
    s: each read is quick, the answer never ends."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection:
            connection.recv(1 << 16)
            try:
                connection.sendall(start)
                while not stop.wait(every):
                    connection.sendall(b"a")
            except OSError:
                pass  # the caller hung up

    def accept() -> None:
        server.settimeout(0.1)  # to see ``stop``
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
