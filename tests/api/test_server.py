"""End to end: the API on a real uvicorn server on loopback, the smoke scripts run against
it and against a real node server as subprocesses, and `daena serve` itself."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from daena_tui.api import TOKEN_HEADER, create_api
from daena_tui.api import V2_PREFIX as API_PREFIX
from daena_tui.cli import dispatch as cli
from engine import Settings
from tests.api.conftest import TOKEN
from tests.conftest import make_repo
from tests.node_server.conftest import TOKEN as NODE_TOKEN
from tests.node_server.conftest import make_workspace, node_settings, serve
from tests.support.servers import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
SMOKE_API = ROOT / "scripts" / "smoke_execution_layer.py"
SMOKE_NODE = ROOT / "scripts" / "smoke_node.py"


def serve_api(settings: Settings) -> AbstractContextManager[str]:
    """The real app (its lifespan opens the engine) on a pre-bound loopback socket."""
    return serve_in_thread(create_api(settings))


def script_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("EXECUTION_TOKEN", "WINDOWS_NODE_TOKEN", "DAENA_DB_PATH")
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_script(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=script_env(),
        check=False,
    )


@pytest.fixture
def live_api(api_settings: Settings) -> Iterator[str]:
    with serve_api(api_settings) as url:
        yield url


def test_real_server_answers_and_refuses(live_api: str) -> None:
    with httpx.Client(base_url=live_api + API_PREFIX, timeout=30) as http:
        assert http.get("/tools").status_code == 401
        response = http.get("/tools", headers={TOKEN_HEADER: TOKEN})
        assert response.status_code == 200 and len(response.json()) >= 10
        rebinding = http.get("/tools", headers={TOKEN_HEADER: TOKEN, "Host": "evil.example"})
        assert rebinding.status_code == 403


def test_smoke_execution_layer_passes_against_the_real_server(
    live_api: str, api_workspace: Path
) -> None:
    readme = (api_workspace / "README.md").read_bytes()
    result = run_script(SMOKE_API, "--base", live_api, "--token", TOKEN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    for check in ("token refusal", "grant replay refused", "apply_patch dry run", "logs show"):
        assert f"PASS  {check}" in result.stdout, result.stdout
    assert (api_workspace / "README.md").read_bytes() == readme
    with httpx.Client(base_url=live_api + API_PREFIX, headers={TOKEN_HEADER: TOKEN}) as http:
        config = http.get("/config").json()
        assert config["tool_enabled"]["apply_patch"] is False  # restored
        assert http.get("/approvals").json() == []  # nothing left in the inbox


def test_smoke_execution_layer_fails_with_a_wrong_token(live_api: str) -> None:
    result = run_script(SMOKE_API, "--base", live_api, "--token", "wrong-token")
    assert result.returncode != 0
    assert "FAIL  token refusal" in result.stdout or "FAIL  tools list" in result.stdout


def test_smoke_execution_layer_fails_when_the_readme_is_missing(
    live_api: str, api_workspace: Path
) -> None:
    result = run_script(
        SMOKE_API, "--base", live_api, "--token", TOKEN, "--file", "no-such-file.md"
    )
    assert result.returncode == 1
    assert "FAIL  apply_patch dry run" in result.stdout and "no-such-file.md" in result.stdout


def test_smoke_execution_layer_reports_an_unreachable_server() -> None:
    result = run_script(SMOKE_API, "--base", "http://127.0.0.1:9", "--token", TOKEN)
    assert result.returncode == 1 and "FAIL" in result.stdout


@pytest.fixture
def live_node(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "node").mkdir()
    ws = make_workspace(tmp_path / "node")
    with serve(node_settings(ws)) as node:
        yield node.url


def test_smoke_node_passes_against_a_real_node(live_node: str) -> None:
    result = run_script(SMOKE_NODE, "--base", live_node, "--token", NODE_TOKEN)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("health", "token refusal", "round trip", "allowlist", "path escape"):
        assert check in result.stdout
    assert "FAIL" not in result.stdout


def test_smoke_node_fails_with_a_wrong_token(live_node: str) -> None:
    result = run_script(SMOKE_NODE, "--base", live_node, "--token", "not-the-token")
    assert result.returncode != 0
    assert "FAIL  health" in result.stdout


# -- daena serve ----------------------------------------------------------------------------


def with_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "daena_tui.cli.serve" in cli.COMMAND_MODULE_NAMES


def test_serve_refuses_insecure_local_on_a_public_address(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    api_workspace: Path,
    tmp_path: Path,
) -> None:
    with_serve(monkeypatch)
    base = ["--db", str(tmp_path / "d.db"), "--workspace", str(api_workspace)]
    code = cli.main([*base, "serve", "--host", "0.0.0.0", "--insecure-local"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "--insecure-local" in err and "loopback" in err
    with pytest.raises(SystemExit) as usage:
        cli.main([*base, "serve", "--port", "70000"])
    assert usage.value.code == 2 and "between 0 and 65535" in capsys.readouterr().err


def test_serve_reports_a_port_in_use(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    api_workspace: Path,
    tmp_path: Path,
) -> None:
    with_serve(monkeypatch)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = str(taken.getsockname()[1])
        base = ["--db", str(tmp_path / "d.db"), "--workspace", str(api_workspace)]
        code = cli.main([*base, "serve", "--port", port])
    finally:
        taken.close()
    assert code == 1 and "cannot listen on 127.0.0.1:" in capsys.readouterr().err


SERVE_CODE = "import sys; from daena_tui import cli\nsys.exit(cli.main(sys.argv[1:]))"


def serve_args(tmp_path: Path) -> list[str]:
    """A database, a workspace repository and an empty env file (no .env from the working
    directory is read) for a `daena` subprocess."""
    ws = tmp_path / "serve-ws"
    make_repo(ws)
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("", encoding="utf-8")
    return ["--db", str(tmp_path / "d.db"), "--workspace", str(ws), "--env-file", str(empty_env)]


def stop_on_sigint(proc: subprocess.Popen[str]) -> int | None:
    """SIGINT, as Ctrl+C sends it; the exit code, or SIGKILL's after 15 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    return proc.returncode


def test_daena_serve_subprocess(tmp_path: Path) -> None:
    """`daena serve --port 0` prints its address, serves with the token, stops on SIGINT."""
    env = script_env()
    env["EXECUTION_TOKEN"] = TOKEN
    env["AUTOMATION_SAFE_MODE"] = "false"
    env["AUTOMATION_ALLOWED_PRIVATE_ADDRESSES"] = "127.0.0.0/8"
    args = serve_args(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE_CODE, *args, "serve", "--port", "0", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "daena API on http://127.0.0.1:" in line, line + (
            proc.stderr.read() if proc.stderr else ""
        )
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(url + "/tools", headers={TOKEN_HEADER: TOKEN}, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "daena serve did not answer"
                time.sleep(0.05)
        assert response.status_code == 200
        assert httpx.get(url + "/tools", timeout=5).status_code == 401
        # Loopback is opted in, yet the API's own address is never scraped through it.
        auth = {TOKEN_HEADER: TOKEN}
        config = httpx.patch(url + "/config", json={"approval_mode": "auto"}, headers=auth)
        assert config.status_code == 200, config.text
        own = httpx.post(
            url + "/run",
            json={"tool_name": "web_scrape_bs4", "args": {"url": url + "/tools"}},
            headers=auth,
            timeout=15,
        )
        assert own.status_code == 403, own.text
        assert "never scraped" in own.json()["error"]
    finally:
        code = stop_on_sigint(proc)
    assert code in (0, 130, -signal.SIGINT)


def test_daena_serve_stops_on_sigint_after_agent_requests(tmp_path: Path) -> None:
    """An agent's requests open the token check's reader connection (engine/storage/
    reader.py); SIGINT still ends the server, every connection thread closed."""
    env = script_env()
    args = serve_args(tmp_path)
    minted = subprocess.run(
        [sys.executable, "-c", SERVE_CODE, *args, "--json", "agents", "token", "create", "sig"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    agent_token = json.loads(minted.stdout)["token"]
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE_CODE, *args, "serve", "--port", "0", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "daena API on http://127.0.0.1:" in line, line
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        for _ in range(3):
            run = httpx.post(
                url + "/run",
                json={"tool_name": "git_status", "args": {}, "dry_run": True},
                headers={TOKEN_HEADER: agent_token},
                timeout=15,
            )
            assert run.status_code == 200, run.text
    finally:
        code = stop_on_sigint(proc)
    assert code in (0, 130, -signal.SIGINT)
