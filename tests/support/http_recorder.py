"""A loopback HTTP server that records every request and answers 200 (stands in for a Pushgateway or collector)."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

Request = tuple[str, str, bytes]  # method, path, body


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[Request]] = []

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).requests.append((self.command, self.path, self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = _handle

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def recording_server() -> Iterator[tuple[str, list[Request]]]:
    """Yield ``(base_url, requests)``; ``requests`` fills up as the server is called."""
    handler: type[_Recorder] = type("Handler", (_Recorder,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()
