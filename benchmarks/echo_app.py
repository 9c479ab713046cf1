"""The baseline for benchmarks 7, 10 and 11: a bare FastAPI app that echoes a JSON body.

`python echo_app.py --port P --workers N` serves it the way `daena serve --workers N` serves
the API: one listening TCP socket bound here, N spawned processes each running uvicorn on
it. (uvicorn's own `--workers` binds its socket without the TCP protocol number, so asyncio
leaves Nagle's algorithm on for its connections and every keep-alive answer waits ~40 ms
for a delayed ACK: not a fair baseline.)
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import socket
from typing import Any

from fastapi import FastAPI

app = FastAPI()


@app.post("/echo")
async def echo(body: dict[str, Any]) -> dict[str, Any]:
    return body


def _serve(sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    family, kind, proto, _, address = socket.getaddrinfo(
        "127.0.0.1", args.port, type=socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(2048)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_serve, args=(sock,)) for _ in range(args.workers)]
    for proc in procs:
        proc.start()

    def stop(*_: object) -> None:
        for proc in procs:
            proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.join()


if __name__ == "__main__":
    main()
