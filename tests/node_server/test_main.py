"""`python -m node_server`: start-up refusals and a real start, as an operator runs it."""

from __future__ import annotations

import ast
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.protocol import TOKEN_HEADER
from engine.safety.hosts import is_loopback, normalise_host
from node_server.__main__ import startup_problem
from node_server.settings import NodeSettings

REPO = Path(__file__).resolve().parents[2]


def node_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "node_server", "--env-file", "", *args]


def run_node(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        node_cmd(*args), env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "my-pc.lan"])
def test_non_loopback_bind_without_token_refuses_to_start(
    host: str, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    started = time.monotonic()
    proc = run_node(["--host", host, "--port", "1"], subprocess_env, tmp_path)
    assert proc.returncode == 2
    assert time.monotonic() - started < 30
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "WINDOWS_NODE_TOKEN" in lines[0]
    assert host in lines[0]


@pytest.mark.parametrize(
    ("args", "extra_env", "needle"),
    [
        (["--workspace", "/definitely/not/here"], {}, "EXECUTION_WORKSPACE_ROOT"),
        (["--port", "70000"], {}, "NODE_PORT"),
        ([], {"NODE_SHELL_ALLOWLIST": "[broken"}, "NODE_SHELL_ALLOWLIST"),
        ([], {"WINDOWS_NODE_TOKEN": "has space"}, "WINDOWS_NODE_TOKEN"),
        ([], {"NODE_MAX_BODY_BYTES": "lots"}, "NODE_MAX_BODY_BYTES"),
    ],
)
def test_bad_settings_exit_2_with_one_clear_line(
    args: list[str],
    extra_env: dict[str, str],
    needle: str,
    subprocess_env: dict[str, str],
    tmp_path: Path,
) -> None:
    proc = run_node(args, {**subprocess_env, **extra_env}, tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert needle in proc.stderr
    assert "has space" not in proc.stderr  # a rejected token is never echoed


def test_python_m_node_server_serves_health(subprocess_env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**subprocess_env, "WINDOWS_NODE_TOKEN": "subprocess-token"}
    proc = subprocess.Popen(
        node_cmd("--port", str(port), "--workspace", str(tmp_path)),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        body: dict[str, Any] | None = None
        while body is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/node/health",
                    headers={TOKEN_HEADER: "subprocess-token"},
                    timeout=2,
                )
                body = response.json()
            except httpx.TransportError:
                time.sleep(0.1)
        assert body is not None, f"node did not answer (exit code {proc.poll()})"
        assert body["status"] == "ok"
        assert body["workspace_root"] == str(tmp_path.resolve())
        unauthorized = httpx.get(f"http://127.0.0.1:{port}/node/health", timeout=2)
        assert unauthorized.status_code == 401
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_loopback_without_token_may_start(tmp_path: Path) -> None:
    settings = NodeSettings(_env_file=None, workspace_root=tmp_path, token=None)  # type: ignore[call-arg]
    assert startup_problem(settings) is None
    exposed = settings.model_copy(update={"host": "0.0.0.0"})
    assert startup_problem(exposed) is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("LocalHost:18888", "localhost"),
        ("[::1]:18888", "[::1]"),
        ("::1", "[::1]"),
        ("node.lan.", "node.lan"),
        ("10.0.0.5:80", "10.0.0.5"),
    ],
)
def test_normalise_host(raw: str, expected: str) -> None:
    assert normalise_host(raw) == expected


def test_allowlist_and_hosts_accept_json_or_comma_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NODE_SHELL_ALLOWLIST", '["git status", "pip  list"]')
    monkeypatch.setenv("NODE_ALLOWED_HOSTS", "Node.LAN, 192.168.1.20:18888")
    settings = NodeSettings(_env_file=None, workspace_root=tmp_path)  # type: ignore[call-arg]
    assert settings.shell_allowlist == ["git status", "pip list"]
    assert settings.allowed_hosts == ["node.lan", "192.168.1.20"]


def test_protocol_module_imports_only_pydantic() -> None:
    tree = ast.parse((REPO / "engine" / "protocol.py").read_text(encoding="utf-8"))
    roots: set[str] = set()
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in stmt.names)
        elif isinstance(stmt, ast.ImportFrom) and stmt.module:
            roots.add(stmt.module.split(".")[0])
    assert roots <= {"__future__", "typing", "pydantic"}


def test_node_server_never_loads_the_console(subprocess_env: dict[str, str]) -> None:
    code = (
        "import sys, node_server.app, node_server.__main__; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('daena_tui', 'textual')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
