"""Benchmark 7: node `run_tool` round trip vs. a bare FastAPI echo on the same machine.

Both servers run as real uvicorn processes on loopback; the client is the engine's
NodeClient (httpx, keep-alive) reading a small file through `file_read_workspace`, against
an httpx POST of the same-sized JSON to the echo app, one right after the other in each
round; the figure is the median of the paired ratios. Target: node at most twice the echo.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from common import header, make_repo, stats_ms, temp_dir

from engine.nodes import NodeClient

TOKEN = "bench-token-123456"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_up(http: httpx.AsyncClient, url: str) -> None:
    for _ in range(200):
        try:
            await http.get(url)
            return
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


async def main(rounds: int) -> None:
    header("node run_tool round trip vs bare FastAPI echo")
    ws = temp_dir("node") / "ws"
    make_repo(ws)
    (ws / "hello.txt").write_text("hello from the node\n")
    node_port, echo_port = free_port(), free_port()
    env = {**os.environ, "WINDOWS_NODE_TOKEN": TOKEN}
    here = Path(__file__).parent
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "node_server", "--port", str(node_port), "--workspace", str(ws)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "echo_app:app",
                "--port",
                str(echo_port),
                "--log-level",
                "warning",
            ],
            cwd=here,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        async with httpx.AsyncClient() as http:
            node_url = f"http://127.0.0.1:{node_port}"
            echo_url = f"http://127.0.0.1:{echo_port}/echo"
            await wait_up(http, node_url + "/node/health")
            await wait_up(http, echo_url)
            client = NodeClient(http)
            payload = {"tool_name": "file_read_workspace", "args": {"path": "hello.txt"}}
            for _ in range(50):
                await client.run_tool(node_url, TOKEN, "file_read_workspace", {"path": "hello.txt"})
                await http.post(echo_url, json=payload)
            node_samples, echo_samples = [], []
            for _ in range(rounds):
                start = time.perf_counter()
                result = await client.run_tool(
                    node_url, TOKEN, "file_read_workspace", {"path": "hello.txt"}
                )
                node_samples.append(time.perf_counter() - start)
                start = time.perf_counter()
                (await http.post(echo_url, json=payload)).raise_for_status()
                echo_samples.append(time.perf_counter() - start)
            assert result["content"] == "hello from the node\n"
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    print(f"node run_tool (file_read_workspace): {stats_ms(node_samples)}")
    print(f"bare FastAPI echo: {stats_ms(echo_samples)}")
    # Each node sample is taken right before its echo sample, so both see the same moment
    # of a noisy machine; the median of those paired ratios is the figure.
    paired = sorted(n / e for n, e in zip(node_samples, echo_samples, strict=True))
    p95 = paired[min(len(paired) - 1, round(0.95 * (len(paired) - 1)))]
    print(
        f"paired ratio node/echo: median {statistics.median(paired):.2f}x, p95 {p95:.2f}x "
        f"(n={len(paired)}); ratio of medians "
        f"{statistics.median(node_samples) / statistics.median(echo_samples):.2f}x (target <= 2x)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500)
    asyncio.run(main(parser.parse_args().rounds))
