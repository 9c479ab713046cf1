"""A real HTTP server on loopback that speaks the parts of Ollama's API the planner uses.

`GET /api/tags` lists `models`; each `POST /api/chat` is answered by the next scripted reply
(a message dict, a `Raw` HTTP answer, or a callable given the request body). Every chat
request body is kept in `requests` so a test can check what the model was shown.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Raw:
    status: int
    body: bytes
    content_type: str = "application/json"


Reply = dict[str, Any] | Raw | Callable[[dict[str, Any]], Any]


def call(name: str, args: dict[str, Any] | None = None, content: str = "") -> dict[str, Any]:
    """An assistant message with one native tool call."""
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [{"function": {"name": name, "arguments": args or {}}}],
    }


def final(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


class FakeOllama:
    def __init__(self, models: list[str] | None = None) -> None:
        self.models = list(models if models is not None else ["qwen2.5:14b-instruct"])
        self.script: list[Reply] = []
        self.default: Reply = final("(script exhausted) done")
        self.requests: list[dict[str, Any]] = []
        self.tags_calls = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> FakeOllama:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != "/api/tags":
                    self._send(404, b'{"error":"not found"}', "application/json")
                    return
                fake.tags_calls += 1
                models = [
                    {"name": m, "model": m, "size": 1000, "digest": "0" * 12, "details": {}}
                    for m in fake.models
                ]
                self._send(200, json.dumps({"models": models}).encode(), "application/json")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != "/api/chat":
                    self._send(404, b'{"error":"not found"}', "application/json")
                    return
                fake.requests.append(body)
                reply = fake.script.pop(0) if fake.script else fake.default
                if callable(reply):
                    reply = reply(body)
                if isinstance(reply, Raw):
                    self._send(reply.status, reply.body, reply.content_type)
                    return
                answer = {
                    "model": body.get("model"),
                    "created_at": "2025-01-01T00:00:00Z",
                    "message": reply,
                    "done": True,
                    "done_reason": "stop",
                }
                self._send(200, json.dumps(answer).encode(), "application/json")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def models_asked(self) -> list[str]:
        return [r.get("model", "") for r in self.requests]


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
