"""Stand-in nodes on loopback that misbehave at the HTTP level: trickle their answer one byte
at a time, hang after the headers, or flood. Raw sockets, so nothing in between smooths
the behaviour out."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HEADERS = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


def health(version: str) -> bytes:
    body = {
        "status": "ok",
        "version": version,
        "platform": "Linux",
        "hostname": "standin",
        "workspace_root": "/ws",
        "tools": ["safe_shell_exec"],
    }
    return json.dumps(body).encode()


def _answer(conn: socket.socket, behaviour: str, stop: threading.Event) -> None:
    if behaviour == "trickle":  # a valid-looking answer, one byte every 2 s, for ever
        conn.sendall(f"{HEADERS}Content-Length: 1000\r\n\r\n".encode())
        while not stop.wait(2.0):
            conn.sendall(b" ")
    elif behaviour == "hang":  # headers, then nothing
        conn.sendall(f"{HEADERS}Content-Length: 100\r\n\r\n".encode())
        stop.wait()
    elif behaviour in ("flood", "flood_unannounced"):  # 10 MB of valid JSON
        body = health("9" * 10_000_000)
        length = f"Content-Length: {len(body)}\r\n" if behaviour == "flood" else ""
        conn.sendall(f"{HEADERS}{length}Connection: close\r\n\r\n".encode())
        conn.sendall(body)
    elif behaviour == "long_version":  # small enough, but a 5,000-character version
        body = health("1." + "7" * 5000)
        conn.sendall(f"{HEADERS}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        stop.wait()


def _serve(sock: socket.socket, behaviour: str, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(None)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                request += chunk
            with contextlib.suppress(OSError):  # the client gave up: what it should do
                _answer(conn, behaviour, stop)


@contextmanager
def hostile_node(behaviour: str) -> Iterator[str]:
    """`http://127.0.0.1:PORT` of a node that behaves as named (see `_answer`)."""
    stop = threading.Event()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.2)
    port = sock.getsockname()[1]

    def loop() -> None:
        while not stop.is_set():
            try:
                _serve(sock, behaviour, stop)
            except TimeoutError:
                continue

    thread = threading.Thread(target=loop, name=f"hostile-node-{behaviour}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(timeout=10)
        sock.close()
