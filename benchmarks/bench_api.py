"""Benchmarks 10 and 11: the HTTP API's dry run against a bare FastAPI echo, same run.

Both servers are real processes on loopback: `daena serve --workers N` (the engine on a
SQLite file, an operator token and an agent token) and `uvicorn echo_app:app --workers N`
(the same uvicorn, the same JSON body echoed back). The client is a minimal keep-alive
HTTP/1.1 client on raw asyncio streams, so the client's own CPU stays small next to the
servers' (2 cores are shared by client and server).

- Figure 10: server CPU per request (user + system time of the server's whole process
  tree, read from /proc through psutil, over a sequential phase) for a `POST
  /api/v1/execution/run` dry run of `git_status` against one echo request. Target <= 2x.
- Figure 11: requests/s with 1, 4 and 16 clients (each its own connection) for each
  number of server processes. Target: with 16 clients, daena >= 0.5x the echo app with the
  same number of processes.

After the run the audit chain is verified (one chain across every worker).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psutil
from common import bench_settings, header, temp_dir

HERE = Path(__file__).parent
OPERATOR_TOKEN = "bench-operator-token-0123456789"
RUN_BODY = json.dumps({"tool_name": "git_status", "args": {}, "dry_run": True}).encode()
RUN_PATH = "/api/v1/execution/run"
DAENA = str(Path(sys.executable).parent / "daena")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request_bytes(port: int, path: str, token: str | None, body: bytes) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        lines.append(f"X-Execution-Token: {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection: send a prepared request, read one response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def call(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def tree_cpu(pid: int) -> float:
    """User + system seconds of a process and all its descendants (the workers)."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


async def wait_up(port: int, raw: bytes, procs: int) -> None:
    """Wait until the server answers 200 (bounded), then warm every worker."""
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = await Connection.open(port)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"port {port} did not open") from None
            await asyncio.sleep(0.05)
    status, body = await conn.call(raw)
    conn.close()
    if status != 200:
        raise RuntimeError(f"port {port}: {status} {body[:300]!r}")
    conns = [await Connection.open(port) for _ in range(8 * procs)]
    for _ in range(50):
        await asyncio.gather(*(c.call(raw) for c in conns))
    for c in conns:
        c.close()


async def sequential_cpu(pid: int, port: int, raw: bytes, n: int) -> tuple[float, float]:
    """(server CPU ms per request, wall ms per request) over `n` sequential requests."""
    conn = await Connection.open(port)
    before, start = tree_cpu(pid), time.perf_counter()
    for _ in range(n):
        status, _ = await conn.call(raw)
        assert status == 200, status
    wall = time.perf_counter() - start
    cpu = tree_cpu(pid) - before
    conn.close()
    return cpu * 1000 / n, wall * 1000 / n


async def throughput(port: int, raw: bytes, clients: int, seconds: float) -> float:
    conns = [await Connection.open(port) for _ in range(clients)]
    done = 0
    stop = time.perf_counter() + seconds

    async def loop(conn: Connection) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            status, body = await conn.call(raw)
            if status != 200:
                raise RuntimeError(f"{status}: {body[:300]!r}")
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in conns))
    elapsed = time.perf_counter() - start
    for c in conns:
        c.close()
    return done / elapsed


def start_echo(port: int, workers: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "uvicorn", "echo_app:app", "--port", str(port)]
    argv += ["--log-level", "warning", "--no-access-log"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return subprocess.Popen(argv, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_daena(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    argv = [DAENA, "serve", "--port", str(port)]
    argv += ["--log-level", "warning"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def agent_token(env: dict[str, str]) -> str:
    out = subprocess.run(
        [DAENA, "--json", "agents", "token", "create", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(out.stdout)["token"])


async def measure(
    label: str,
    proc: subprocess.Popen[bytes],
    port: int,
    raw: bytes,
    workers: int,
    n: int,
    clients: Sequence[int],
    seconds: float,
) -> dict[str, float]:
    await wait_up(port, raw, workers)
    cpu, wall = await sequential_cpu(proc.pid, port, raw, n)
    print(f"  {label}: server CPU {cpu:.3f} ms/request, wall {wall:.3f} ms (n={n}, 1 client)")
    found = {"cpu": cpu}
    for c in clients:
        rate = await throughput(port, raw, c, seconds)
        found[f"c{c}"] = rate
        print(f"  {label}: {c:>2} clients: {rate:,.0f} requests/s")
    return found


async def main(n: int, workers_list: Sequence[int], clients: Sequence[int], seconds: float) -> None:
    header("API dry run vs bare FastAPI echo (server CPU, throughput by clients)")
    root = temp_dir("api")
    settings = bench_settings(root)
    env = {
        **os.environ,
        "EXECUTION_WORKSPACE_ROOT": str(settings.execution_workspace_root),
        "DAENA_DB_PATH": str(settings.daena_db_path),
        "DAENA_OPERATOR": "bench",
        "EXECUTION_TOKEN": OPERATOR_TOKEN,
        "PYTHONPATH": str(HERE.parent),
    }
    agent = agent_token(env)
    for workers in workers_list:
        print(f"server processes: {workers}")
        port = free_port()
        echo = start_echo(port, workers)
        try:
            echo_raw = request_bytes(port, "/echo", None, RUN_BODY)
            base = await measure("echo", echo, port, echo_raw, workers, n, clients, seconds)
        finally:
            stop(echo)
        port = free_port()
        daena = start_daena(port, workers, env)
        try:
            runs = {}
            for who, token in (("operator", OPERATOR_TOKEN), ("agent", agent)):
                raw = request_bytes(port, RUN_PATH, token, RUN_BODY)
                runs[who] = await measure(
                    f"daena /run ({who} token)", daena, port, raw, workers, n, clients, seconds
                )
        finally:
            stop(daena)
            err = daena.stderr.read().decode() if daena.stderr else ""
            if daena.returncode not in (0, -15):
                print(f"  daena serve exited {daena.returncode}: {err[-2000:]}")
        for who, found in runs.items():
            print(
                f"  ratio ({who}): server CPU {found['cpu'] / base['cpu']:.2f}x the echo "
                "(target <= 2x); "
                + ", ".join(f"{c} clients {found[f'c{c}'] / base[f'c{c}']:.2f}x" for c in clients)
                + " of the echo's requests/s (target >= 0.5x at 16)"
            )
    verify = subprocess.run(
        [DAENA, "audit", "verify", "--full"],
        env=env,
        capture_output=True,
        text=True,
    )
    if verify.returncode != 0:  # an older build has no --full
        verify = subprocess.run(
            [DAENA, "audit", "verify"],
            env=env,
            capture_output=True,
            text=True,
        )
    print(f"audit chain after the run: {(verify.stdout or verify.stderr).strip()[:300]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=2000, help="sequential requests for CPU")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput phase")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.workers, args.clients, args.seconds))
