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
  same number of processes. Beside each rate: the server's CPU per request under that load
  and the client's own (this process; it shares the 2 cores with the servers).
- The floor: the echo app's `POST /durable` (one aiosqlite INSERT + COMMIT with the
  engine's pragmas before answering, `echo_app.py --db`), the least a request that leaves
  a durable record can cost; ratios against it say how much of daena's cost is avoidable
  without giving up "acknowledged means durable".

Both servers are up at once and every measurement is taken in slices, echo and daena taking
turns (`--rounds`), so the other load on this machine falls on both alike.

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
    user, system = tree_cpu_split(pid)
    return user + system


def tree_cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) seconds of a process and all its descendants."""
    proc = psutil.Process(pid)
    user = system = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        user += t.user
        system += t.system
    return user, system


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
    """(server user CPU ms per request, system CPU ms per request) over `n` sequential
    requests."""
    conn = await Connection.open(port)
    user0, system0 = tree_cpu_split(pid)
    for _ in range(n):
        status, _ = await conn.call(raw)
        assert status == 200, status
    user1, system1 = tree_cpu_split(pid)
    conn.close()
    return (user1 - user0) * 1000 / n, (system1 - system0) * 1000 / n


async def throughput(port: int, raw: bytes, clients: int, seconds: float) -> int:
    """Requests answered by `clients` connections in `seconds` (each waits for its answer)."""
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

    await asyncio.gather(*(loop(c) for c in conns))
    for c in conns:
        c.close()
    return done


def start_echo(port: int, workers: int, db: Path) -> subprocess.Popen[bytes]:
    """The echo app served as `daena serve` serves: one socket, N spawned uvicorn processes."""
    argv = [sys.executable, "echo_app.py", "--port", str(port), "--workers", str(workers)]
    argv += ["--db", str(db)]
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


class Side:
    """One server under test: its process, its port, the request it answers."""

    def __init__(self, label: str, proc: subprocess.Popen[bytes], port: int, raw: bytes) -> None:
        self.label, self.proc, self.port, self.raw = label, proc, port, raw
        self.cpu_s = 0.0
        self.system_s = 0.0
        self.cpu_n = 0
        self.done: dict[int, int] = {}
        self.elapsed: dict[int, float] = {}
        self.server_s: dict[int, float] = {}
        self.client_s: dict[int, float] = {}


async def interleaved(
    sides: list[Side], n: int, clients: Sequence[int], seconds: float, rounds: int
) -> None:
    """Every measurement in short slices, the sides taking turns, so a change in the
    machine's other load falls on all of them alike."""
    for _ in range(rounds):
        for side in sides:
            user, system = await sequential_cpu(side.proc.pid, side.port, side.raw, n // rounds)
            side.cpu_s += (user + system) * (n // rounds) / 1000
            side.system_s += system * (n // rounds) / 1000
            side.cpu_n += n // rounds
    for c in clients:
        for _ in range(rounds):
            for side in sides:
                server0, client0 = tree_cpu(side.proc.pid), time.process_time()
                start = time.perf_counter()
                done = await throughput(side.port, side.raw, c, seconds / rounds)
                took = time.perf_counter() - start
                side.done[c] = side.done.get(c, 0) + done
                side.elapsed[c] = side.elapsed.get(c, 0.0) + took
                server = tree_cpu(side.proc.pid) - server0
                side.server_s[c] = side.server_s.get(c, 0.0) + server
                side.client_s[c] = side.client_s.get(c, 0.0) + time.process_time() - client0


def report(sides: list[Side], clients: Sequence[int]) -> None:
    base, floor = sides[0], sides[1]

    def rate(side: Side, c: int) -> float:
        return side.done[c] / side.elapsed[c]

    def per_request(seconds: float, side: Side, c: int) -> float:
        return seconds * 1000 / max(side.done[c], 1)

    for side in sides:
        cpu = side.cpu_s * 1000 / side.cpu_n
        system = side.system_s * 1000 / side.cpu_n
        rates = ", ".join(f"{c} clients {rate(side, c):,.0f}/s" for c in clients)
        print(f"  {side.label}: server CPU {cpu:.3f} ms/request ({system:.3f} system); {rates}")
        loaded = ", ".join(
            f"{c} clients {per_request(side.server_s[c], side, c):.3f}"
            f"/{per_request(side.client_s[c], side, c):.3f}"
            for c in clients
        )
        print(f"    under load, CPU ms/request server/client: {loaded}")
    for side in sides[1:]:
        for other in (base, floor) if side is not floor else (base,):
            cpu_ratio = (side.cpu_s / side.cpu_n) / (other.cpu_s / other.cpu_n)
            ratios = ", ".join(
                f"{c} clients {rate(side, c) / rate(other, c):.2f}x" for c in clients
            )
            target = " (targets vs echo: CPU <= 2x, >= 0.5x at 16)" if other is base else ""
            print(
                f"  ratio {side.label} / {other.label}: server CPU {cpu_ratio:.2f}x; "
                f"requests/s {ratios}{target}"
            )


async def main(
    n: int, workers_list: Sequence[int], clients: Sequence[int], seconds: float, rounds: int
) -> None:
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
    print(f"sequential requests per side: {n}; throughput: {seconds:.0f} s per side and clients")
    for workers in workers_list:
        print(f"server processes: {workers} (each side)")
        echo_port, daena_port = free_port(), free_port()
        echo = start_echo(echo_port, workers, root / f"floor-{workers}.db")
        daena = start_daena(daena_port, workers, env)
        try:
            sides = [
                Side("echo", echo, echo_port, request_bytes(echo_port, "/echo", None, RUN_BODY)),
                Side(
                    "echo + durable write",
                    echo,
                    echo_port,
                    request_bytes(echo_port, "/durable", None, RUN_BODY),
                ),
                Side(
                    "daena /run, operator token",
                    daena,
                    daena_port,
                    request_bytes(daena_port, RUN_PATH, OPERATOR_TOKEN, RUN_BODY),
                ),
                Side(
                    "daena /run, agent token",
                    daena,
                    daena_port,
                    request_bytes(daena_port, RUN_PATH, agent, RUN_BODY),
                ),
            ]
            for side in sides:
                await wait_up(side.port, side.raw, workers)
            await interleaved(sides, n, clients, seconds, rounds)
            report(sides, clients)
        finally:
            stop(echo)
            stop(daena)
            err = daena.stderr.read().decode() if daena.stderr else ""
            if daena.returncode not in (0, -15):
                print(f"  daena serve exited {daena.returncode}: {err[-2000:]}")
    verify = subprocess.run([DAENA, "audit", "verify"], env=env, capture_output=True, text=True)
    print(f"audit chain after the run: {(verify.stdout or verify.stderr).strip()[:300]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=2000, help="sequential requests for CPU")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=6.0, help="per side and clients")
    parser.add_argument("--rounds", type=int, default=3, help="turns each side takes")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.workers, args.clients, args.seconds, args.rounds))
