"""The baseline for benchmarks 7, 10 and 11: a bare FastAPI app that echoes a JSON body.

With `--db PATH` it also serves `POST /durable`: the body echoed after one aiosqlite INSERT
+ COMMIT into PATH with the engine's pragmas (WAL, `synchronous`, busy timeout), the least
an acknowledged, durable record can cost over HTTP (figure 10's floor: no hash chain, no
policy, no events, only the write the durability promise needs).

`python echo_app.py --port P --workers N` serves it the way `daena serve --workers N` serves
the API: one listening TCP socket bound here, N spawned processes each running uvicorn on
it. (uvicorn's own `--workers` binds its socket without the TCP protocol number, so asyncio
leaves Nagle's algorithm on for its connections and every keep-alive answer waits ~40 ms
for a delayed ACK: not a fair baseline.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiosqlite
from fastapi import FastAPI

from engine.storage.database import BUSY_TIMEOUT_MS, SYNCHRONOUS

DB_ENV = "DAENA_ECHO_DB"
_db: list[aiosqlite.Connection] = []


@contextlib.asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    path = os.environ.get(DB_ENV)
    if path:
        conn = await aiosqlite.connect(path)
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY, ts REAL, body TEXT)"
        )
        await conn.commit()
        _db.append(conn)
    yield
    for conn in _db:
        await conn.close()


app = FastAPI(lifespan=lifespan)


@app.post("/echo")
async def echo(body: dict[str, Any]) -> dict[str, Any]:
    return body


@app.post("/durable")
async def durable(body: dict[str, Any]) -> dict[str, Any]:
    conn = _db[0]
    await conn.execute(
        "INSERT INTO records (ts, body) VALUES (?, ?)", (time.time(), json.dumps(body))
    )
    await conn.commit()
    return body


def _serve(sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db", help="SQLite file for POST /durable")
    args = parser.parse_args()
    if args.db:
        os.environ[DB_ENV] = args.db  # the spawned workers inherit it
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
