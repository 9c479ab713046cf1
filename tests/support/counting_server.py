"""A real HTTP(S) server on loopback that counts every request it receives (path and Host
header): the witness of the SSRF tests, whose refusals must leave it at zero."""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE = b"<html><body><p id='t'>served</p></body></html>"


@dataclass
class Counting:
    """A real HTTP(S) server that records every request (path, Host header)."""

    host: str
    port: int
    scheme: str = "http"
    hits: list[tuple[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.hits]


def _handler(state: Counting) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            state.hits.append((self.path, self.headers.get("Host", "")))
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", query["to"])
                body = b""
            else:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                body = PAGE
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def start(bind: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None) -> Counting:
    state = Counting(bind, port, "https" if tls else "http")
    server = ThreadingHTTPServer((bind, port), _handler(state))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    state.server, state.port = server, server.server_address[1]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return state


def stop(*servers: Counting) -> None:
    for s in servers:
        assert s.server is not None
        s.server.shutdown()
        s.server.server_close()
