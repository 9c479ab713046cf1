"""`daena serve --workers N`: real processes on one socket and one SQLite database.

What must hold across workers is tested through real connections that are known to be
served by different workers (each connection is matched to the worker process holding its
server side): one audit chain after concurrent runs, a grant used once, a clean stop on
SIGTERM, no worker left when the parent is killed, and a worker's death stopping the rest.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.api.conftest import TOKEN
from tests.api.test_server import script_env
from tests.conftest import make_repo

CODE = "import sys; from daena_tui import cli\nsys.exit(cli.main(sys.argv[1:]))"
V1 = "/api/v1/execution"
BOUND_SEC = 60.0


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    workers: list[int]
    args: list[str]
    env: dict[str, str]


def daena_args(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    ws = tmp_path / "ws"
    if not ws.exists():
        make_repo(ws)
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("", encoding="utf-8")
    env = script_env()
    env["EXECUTION_TOKEN"] = TOKEN
    args = ["--db", str(tmp_path / "d.db"), "--workspace", str(ws), "--env-file", str(empty_env)]
    return args, env


def wait_for(check: Any, what: str, bound: float = BOUND_SEC) -> Any:
    deadline = time.monotonic() + bound
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def worker_pids(parent: int) -> list[int]:
    """The parent's worker processes (multiprocessing's resource tracker is not one)."""
    found = []
    for child in psutil.Process(parent).children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return sorted(found)


@contextmanager
def serve_workers(tmp_path: Path, workers: int = 2) -> Iterator[Served]:
    args, env = daena_args(tmp_path)
    cmd = [sys.executable, "-c", CODE, *args, "serve", "--port", "0", "--log-level", "warning"]
    proc = subprocess.Popen(
        [*cmd, "--workers", str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once every worker listens
        assert f"{workers} workers" in line, line + (proc.stderr.read() if proc.stderr else "")
        port = int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        pids = worker_pids(proc.pid)
        assert len(pids) == workers, pids
        yield Served(proc, port, pids, args, env)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def connection_owner(served: Served, conn: http.client.HTTPConnection) -> int | None:
    """The worker holding the server side of `conn` (matched by the client's port)."""
    assert conn.sock is not None
    client_port = conn.sock.getsockname()[1]
    for pid in served.workers:
        for c in psutil.Process(pid).net_connections(kind="tcp"):
            if c.laddr and c.laddr.port == served.port and c.raddr and c.raddr.port == client_port:
                return pid
    return None


def call(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    headers = {"X-Execution-Token": TOKEN, "Content-Type": "application/json"}
    data = None if body is None else json.dumps(body)
    conn.request(method, V1 + path, body=data, headers=headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


def connections_on_every_worker(served: Served, per_worker: int) -> dict[int, list[Any]]:
    """Open keep-alive connections until each worker serves `per_worker` of them (bounded)."""
    by_worker: dict[int, list[http.client.HTTPConnection]] = {pid: [] for pid in served.workers}
    spare: list[http.client.HTTPConnection] = []
    for _ in range(400):
        if all(len(c) >= per_worker for c in by_worker.values()):
            break
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        status, _ = call(conn, "GET", "/tools")
        assert status == 200
        owner = wait_for(lambda c=conn: connection_owner(served, c), "connection owner", 10)
        (by_worker[owner] if len(by_worker[owner]) < per_worker else spare).append(conn)
    for conn in spare:
        conn.close()
    assert all(len(c) >= per_worker for c in by_worker.values()), {
        pid: len(c) for pid, c in by_worker.items()
    }
    return by_worker


def in_threads(jobs: list[Any]) -> list[Any]:
    """Run each job at once in its own thread (started together), return their results."""
    results: list[Any] = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except Exception as err:
            results[i] = err

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BOUND_SEC)
    return results


def daena(served: Served, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CODE, *served.args, *argv],
        capture_output=True,
        text=True,
        env=served.env,
        timeout=120,
        check=False,
    )


def test_two_workers_serve_one_chain_across_concurrent_runs(tmp_path: Path) -> None:
    with serve_workers(tmp_path) as served:
        by_worker = connections_on_every_worker(served, per_worker=4)
        conns = [c for group in by_worker.values() for c in group]

        def runs(conn: http.client.HTTPConnection) -> list[int]:
            ids = []
            for _ in range(25):
                status, body = call(
                    conn, "POST", "/run", {"tool_name": "git_status", "dry_run": True}
                )
                assert status == 200 and body["success"] is True, body
                ids.append(body["audit_id"])
            return ids

        results = in_threads([lambda c=c: runs(c) for c in conns])
        assert not [r for r in results if isinstance(r, Exception)], results
        ids = [i for r in results for i in r]
        assert len(ids) == len(set(ids)) == 25 * len(conns)  # every run its own record
        for conn in conns:
            conn.close()
        verify = daena(served, "--json", "audit", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        report = json.loads(verify.stdout)
        assert report["ok"] is True and report["checked"] >= max(ids), report


def test_a_grant_is_used_once_across_workers(tmp_path: Path) -> None:
    with serve_workers(tmp_path) as served:
        by_worker = connections_on_every_worker(served, per_worker=3)
        conns = [c for group in by_worker.values() for c in group]
        status, _ = call(
            conns[0],
            "PATCH",
            "/config",
            {"approval_mode": "require_approval", "require_approval_for_risky": True},
        )
        assert status == 200
        run = {"tool_name": "shell_exec", "args": {"command": "git status"}}
        status, refused = call(conns[0], "POST", "/run", run)
        assert status == 403, refused  # needs approval
        status, grant = call(conns[0], "POST", "/approve?tool_name=shell_exec")
        assert status == 200 and grant["approval_id"], grant
        with_grant = {**run, "approval_id": grant["approval_id"]}
        results = in_threads([lambda c=c: call(c, "POST", "/run", with_grant) for c in conns])
        assert not [r for r in results if isinstance(r, Exception)], results
        passed = [b for s, b in results if s == 200 and b["success"] is True]
        assert len(passed) == 1, results
        assert all(s == 403 for s, b in results if not (s == 200 and b["success"])), results
        assert passed[0]["status"] == "ok" and passed[0]["result"]["returncode"] == 0
        for conn in conns:
            conn.close()


def test_sigterm_stops_every_worker_and_the_parent_cleanly(tmp_path: Path) -> None:
    with serve_workers(tmp_path) as served:
        workers = [psutil.Process(pid) for pid in served.workers]
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(BOUND_SEC) == 0
        _gone, alive = psutil.wait_procs(workers, timeout=BOUND_SEC)
        assert not alive, alive
        assert served.proc.stderr is not None
        assert "Traceback" not in served.proc.stderr.read()


def test_no_worker_outlives_a_killed_parent(tmp_path: Path) -> None:
    with serve_workers(tmp_path) as served:
        workers = [psutil.Process(pid) for pid in served.workers]
        served.proc.kill()
        served.proc.wait(BOUND_SEC)
        _gone, alive = psutil.wait_procs(workers, timeout=BOUND_SEC)
        assert not alive, alive


def test_a_dead_worker_stops_the_others_with_a_clear_message(tmp_path: Path) -> None:
    with serve_workers(tmp_path) as served:
        others = [psutil.Process(pid) for pid in served.workers[1:]]
        psutil.Process(served.workers[0]).kill()
        assert served.proc.wait(BOUND_SEC) == 1
        _gone, alive = psutil.wait_procs(others, timeout=BOUND_SEC)
        assert not alive, alive
        assert served.proc.stderr is not None
        err = served.proc.stderr.read()
        assert f"worker pid {served.workers[0]} exited (signal SIGKILL)" in err, err
        assert "Traceback" not in err


@pytest.mark.parametrize("given", ["0", "65", "two"])
def test_workers_out_of_range_is_refused_naming_the_rule(tmp_path: Path, given: str) -> None:
    args, env = daena_args(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", CODE, *args, "serve", "--port", "0", "--workers", given],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--workers" in result.stderr and "Traceback" not in result.stderr
    rule = "is not a whole number" if given == "two" else "is not between 1 and 64"
    assert rule in result.stderr, result.stderr
