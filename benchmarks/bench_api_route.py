"""Figure 10, in-process: where a `POST /run` dry run's server CPU goes, without HTTP.

The apps are driven by raw ASGI calls in this process (no socket, no uvicorn, no client
beside them), one request after another, the sides taking turns in slices:

- `echo`: `echo_app.app`, the bare FastAPI echo of the same body;
- `daena, fast route`: `create_api(engine)` as `daena serve` serves it
  (`daena_tui/api/fast_run.py` answers the plain `POST /run`);
- `daena, FastAPI route`: `create_api(engine, fast_run=False)`, the same app with FastAPI's
  own route only (what served every request before the fast route);
- `engine.run`: the engine's audited dry run called directly, no app at all.

For each: CPU per request of the whole process (the event loop's thread and the database
connection's thread, `time.process_time`) and of the event loop's thread alone
(`time.thread_time`). The app's own cost is a side's loop-thread CPU minus `engine.run`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import echo_app
from common import bench_settings, header, temp_dir

from daena_tui.api.app import create_api
from engine import Engine, RunRequest

TOKEN = "bench-operator-token-0123456789"
BODY = json.dumps({"tool_name": "git_status", "args": {}, "dry_run": True}).encode()
RUN_PATH = "/api/v1/execution/run"
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def http_scope(path: str, token: str | None) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ]
    if token:
        headers.append((b"x-execution-token", token.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call(app: App, scope: dict[str, Any]) -> None:
    """One request through the ASGI app; the answer must be 200."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.Event().wait()  # never disconnects
        raise AssertionError("unreachable")

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(dict(scope, state={}), receive, send)
    if status != [200]:
        raise RuntimeError(f"answered {status}")


async def main(n: int, rounds: int) -> None:
    header("API dry run in-process: app CPU per request (ASGI, no HTTP)")
    root = temp_dir("api-route")
    settings = bench_settings(root, EXECUTION_TOKEN=TOKEN)
    async with Engine.open(settings) as eng:
        fast, reference = create_api(eng), create_api(eng, fast_run=False)

        async def engine_run() -> None:
            request = RunRequest(tool="git_status", args={}, dry_run=True, requester="api:bench")
            if not (await eng.run(request)).ok:
                raise RuntimeError("dry run refused")

        sides: dict[str, Callable[[], Awaitable[None]]] = {
            "echo": lambda: call(echo_app.app, http_scope("/echo", None)),
            "daena, fast route": lambda: call(fast, http_scope(RUN_PATH, TOKEN)),
            "daena, FastAPI route": lambda: call(reference, http_scope(RUN_PATH, TOKEN)),
            "engine.run": engine_run,
        }
        for side in sides.values():  # warm up every path
            for _ in range(100):
                await side()
        per = max(n // rounds, 1)
        process: dict[str, list[float]] = {name: [] for name in sides}
        loop: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(rounds):
            for name, side in sides.items():
                p0, t0 = time.process_time(), time.thread_time()
                for _ in range(per):
                    await side()
                process[name].append((time.process_time() - p0) * 1000 / per)
                loop[name].append((time.thread_time() - t0) * 1000 / per)
    print(f"requests per side: {per * rounds} in {rounds} slices; medians of the slices")
    for name in sides:
        print(
            f"  {name}: CPU {statistics.median(process[name]):.3f} ms/request "
            f"(event loop's thread {statistics.median(loop[name]):.3f})"
        )
    engine_loop = statistics.median(loop["engine.run"])
    for name in ("daena, fast route", "daena, FastAPI route"):
        app_cpu = statistics.median(loop[name]) - engine_loop
        print(f"  app's own CPU above engine.run, {name}: {app_cpu:.3f} ms/request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=3000, help="requests per side")
    parser.add_argument("--rounds", type=int, default=10, help="slices each side takes")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.rounds))
