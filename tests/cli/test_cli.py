"""The `daena` command line, its output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from daena_tui.cli import main


class Daena:
    """Runs `daena` in-process against one workspace and database."""

    def __init__(self, workspace: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.base = ["--db", str(db), "--workspace", str(workspace), "--operator", "op@test"]
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main([*self.base, *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> tuple[int, object]:
        code, out, _ = self("--json", *args)
        return code, json.loads(out)


@pytest.fixture
def daena(workspace: Path, db_path: Path, capsys: pytest.CaptureFixture[str]) -> Daena:
    return Daena(workspace, db_path, capsys)


def audit_count(daena: Daena) -> int:
    code, records = daena.json("logs", "--limit", "100000")
    assert code == 0 and isinstance(records, list)
    return len(records)


def test_tools_list_and_toggle(daena: Daena) -> None:
    code, out, _ = daena("tools")
    assert code == 0 and "git_status" in out and "filesystem_write" in out
    assert daena("tools", "enable", "filesystem_write")[0] == 0
    _, tools = daena.json("tools", "list")
    assert isinstance(tools, list)
    assert {t["name"]: t["enabled"] for t in tools}["filesystem_write"] is True


def test_run_ok_refused_and_exit_codes(daena: Daena, workspace: Path) -> None:
    code, out, _ = daena("run", "git_status")
    assert code == 0 and "git_status: ok" in out
    code, result = daena.json("run", "filesystem_read", "--arg", "path=README.md")
    assert code == 0 and isinstance(result, dict) and result["result"]["content"] == "hello\n"
    code, out, _ = daena("run", "filesystem_read", "--arg", "path=../../etc/passwd")
    assert code == 3 and "outside the workspace" in out
    code, out, _ = daena("run", "filesystem_read", "--arg", "path=missing.txt")
    assert code == 1 and "does not exist" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["config", "set", "approval_mode", "bogus"], "approval_mode"),
        (["config", "set", "max_steps_per_run", "-1"], "max_steps_per_run"),
        (["config", "set", "no_such_key", "1"], "no_such_key"),
        (["config", "set", "max_retries_per_tool", "lots"], "max_retries_per_tool"),
        (["tools", "enable", "no_such_tool"], "tool"),
        # `daena run` with an unknown tool or unreadable arguments is an attempt: refused and
        # audited (tests/cli/test_audit_cli_hostile.py), not "nothing stored".
        (["approvals", "grant", "filesystem_write", "--args", '{"path": 3}'], "args.path"),
        (["approvals", "approve", "req_missing"], "req_missing"),
        (["logs", "--since", "yesterdayish"], "--since"),
        (["logs", "--limit", "0"], "--limit"),
        (["run"], "tool"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_stored(
    daena: Daena, argv: list[str], needle: str
) -> None:
    before = audit_count(daena)
    config_before = daena.json("config", "show")[1]
    with (
        pytest.raises(SystemExit)
        if argv[0] in ("run", "frobnicate") and len(argv) == 1
        else _nullcontext()
    ):
        code, out, err = daena(*argv)
        assert code == 2, (out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err
    assert audit_count(daena) == before
    assert daena.json("config", "show")[1] == config_before


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


def test_usage_errors_exit_2_with_one_line(workspace: Path, db_path: Path) -> None:
    for argv in (["run"], ["frobnicate"], ["approvals", "deny", "x"]):
        proc = subprocess.run(
            [sys.executable, "-m", "daena_tui", "--db", str(db_path), *argv],
            capture_output=True,
            text=True,
            cwd=workspace,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_approval_flow_from_the_cli(daena: Daena, workspace: Path) -> None:
    daena("tools", "enable", "filesystem_write")
    code, result = daena.json(
        "run",
        "filesystem_write",
        "--arg",
        "path=a.txt",
        "--arg",
        "content=42",
        "--requester",
        "agent",
    )
    assert code == 3 and isinstance(result, dict)
    req = result["approval_request_id"]
    code, pending = daena.json("approvals", "list")
    assert code == 0 and isinstance(pending, list) and pending[0]["id"] == req
    assert pending[0]["args"] == {"path": "a.txt", "content": "42", "create_dirs": False}
    code, out, _ = daena("approvals", "show", req)
    assert "content:" in out and "42" in out
    code, out, _ = daena("approvals", "approve", req)
    assert code == 0 and "approved" in out
    assert (workspace / "a.txt").read_text() == "42"
    code, out, err = daena("approvals", "approve", req)
    assert code == 3 and "already approved" in err
    code, records = daena.json("logs", "--tool", "filesystem_write")
    assert isinstance(records, list)
    seen = [(r["action"], r["actor"], r["status"]) for r in records]
    assert ("run", "agent", "ok") in seen  # the run is the agent's...
    assert ("approval_approved", "op@test", "approved") in seen  # ...approved by the operator


def test_grant_then_run_then_replay(daena: Daena) -> None:
    daena("tools", "enable", "filesystem_write")
    code, grant = daena.json(
        "approvals", "grant", "filesystem_write", "--arg", "path=g.txt", "--arg", "content=x"
    )
    assert code == 0 and isinstance(grant, dict)
    args = [
        "run",
        "filesystem_write",
        "--arg",
        "path=g.txt",
        "--arg",
        "content=x",
        "--approval",
        grant["id"],
    ]
    assert daena(*args)[0] == 0
    code, out, _ = daena(*args)
    assert code == 3 and "already used" in out


def test_deny_needs_reason_and_records_it(daena: Daena) -> None:
    daena("tools", "enable", "filesystem_write")
    _, result = daena.json(
        "run",
        "filesystem_write",
        "--arg",
        "path=d.txt",
        "--arg",
        "content=x",
        "--requester",
        "agent",
    )
    assert isinstance(result, dict)
    code, out, _ = daena(
        "approvals", "deny", result["approval_request_id"], "--reason", "no thanks"
    )
    assert code == 0 and "no thanks" in out
    _, records = daena.json("logs", "--status", "denied")
    assert isinstance(records, list) and records[0]["actor"] == "op@test"


def test_audit_verify_and_export(daena: Daena, tmp_path: Path) -> None:
    daena("run", "git_status")
    code, out, _ = daena("audit", "verify")
    assert code == 0 and "audit chain ok" in out
    target = tmp_path / "audit.csv"
    code, _, err = daena("audit", "export", "--format", "csv", "-o", str(target))
    assert code == 0 and "exported" in err
    assert target.read_text().startswith("id,")


def test_audit_verify_reports_tampering(daena: Daena, db_path: Path) -> None:
    from tests.support.raw_db import raw_db

    daena("run", "git_status")
    daena("run", "git_status")
    with raw_db(db_path) as conn:
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE id = 2")
    code, out, _ = daena("audit", "verify")
    assert code == 1 and "BROKEN at record 2" in out


def test_config_export_import_round_trip(daena: Daena, tmp_path: Path) -> None:
    exported = tmp_path / "policy.json"
    daena("config", "set", "max_steps_per_run", "9")
    assert daena("config", "export", "-o", str(exported))[0] == 0
    daena("config", "set", "max_steps_per_run", "3")
    assert daena("config", "import", str(exported), "--yes")[0] == 0
    assert daena.json("config", "show")[1]["max_steps_per_run"] == 9  # type: ignore[index]
    bad = tmp_path / "bad.json"
    bad.write_text('{"approval_mode": "sometimes"}')
    code, _, err = daena("config", "import", str(bad), "--yes")
    assert code == 2 and "approval_mode" in err
    assert daena.json("config", "show")[1]["max_steps_per_run"] == 9  # type: ignore[index]


def test_doctor_shows_sources_never_secrets(daena: Daena, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECUTION_TOKEN", "hunter2-very-secret")
    code, out, _ = daena("doctor")
    assert code == 0
    assert "EXECUTION_TOKEN" in out and "hunter2" not in out
    assert "derived from MODELS_ROOT" in out and "audit chain" in out


def test_nodes_commands(daena: Daena) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, _ = daena(
        "nodes", "add", "lab", f"http://127.0.0.1:{port}", "--token", "abc-token-1"
    )
    assert code == 0 and "added" in out
    code, nodes = daena.json("nodes", "list")
    assert isinstance(nodes, list)
    lab = next(n for n in nodes if n["name"] == "lab")
    assert lab["token"] == "set" and "abc-token-1" not in json.dumps(nodes)
    code, out, _ = daena("nodes", "health", "lab")
    assert code == 1 and "unreachable" in out
    code, _, err = daena("nodes", "add", "bad name", "http://x")
    assert code == 2 and err.startswith("daena: Invalid input: name:")
    code, _, err = daena("nodes", "remove", "lab")
    assert code == 2 and "--yes" in err
    assert daena("nodes", "remove", "lab", "--yes")[0] == 0
    code, _, err = daena("nodes", "health", "lab")
    assert code == 2 and "no node named 'lab'" in err


def test_audit_prune(daena: Daena) -> None:
    daena("run", "git_status")
    code, _, err = daena("audit", "prune", "--older-than", "soon")
    assert code == 2 and "--older-than" in err
    code, _, err = daena("audit", "prune", "--older-than", "0s")
    assert code == 2 and "--yes" in err
    code, out, _ = daena("audit", "prune", "--older-than", "0s", "--yes")
    assert code == 0 and "deleted" in out
    assert daena("audit", "verify")[0] == 0


def test_audit_reindex_and_text_search(daena: Daena) -> None:
    for _ in range(3):
        daena("run", "filesystem_read", "--arg", "path=README.md")
    code, out, err = daena("audit", "reindex")
    assert code == 0 and "rebuilt through record" in out and "rebuilding" in err
    code, found = daena.json("logs", "--text", "readme.MD")
    assert code == 0 and isinstance(found, list) and len(found) == 3
    code, data = daena.json("audit", "reindex")
    assert code == 0 and isinstance(data, dict) and data["indexed_through"] >= 3


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["approvals", "grant", "git_status", "--ttl", "nan"], "ttl_sec"),
        (["nodes", "add", "x", "http://[::1"], "url"),
        (["logs", "--since", "99999999999d"], "--since"),
        (["audit", "export", "-o", "/nonexistent/dir/x.csv"], "--output"),
        (["config", "export", "-o", "/nonexistent/dir/p.json"], "--output"),
    ],
)
def test_odd_input_found_by_hand_is_a_clear_error(
    daena: Daena, argv: list[str], needle: str
) -> None:
    code, _, err = daena(*argv)
    assert code == 2, err
    assert needle in err and "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize(
    ("key", "value"),
    [("max_steps_per_run", "true"), ("max_retries_per_tool", "false"), ("lockdown", "1")],
)
def test_config_set_never_coerces(daena: Daena, key: str, value: str) -> None:
    _, before = daena.json("config", "show")
    code, _, err = daena("config", "set", key, value)
    assert code == 2 and key in err
    assert daena.json("config", "show")[1] == before


def test_config_import_shows_the_diff_and_needs_yes_without_a_terminal(
    daena: Daena, tmp_path: Path
) -> None:
    assert daena("tools", "enable", "filesystem_write")[0] == 0
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"tool_enabled": {"git_status": True}, "max_steps_per_run": 4}))
    _, before = daena.json("config", "show")
    code, out, err = daena("config", "import", str(policy))  # stdin is not a terminal here
    assert code == 2 and "--yes" in err
    assert "filesystem_write: on -> off" in out and "max_steps_per_run: 20 -> 4" in out
    assert daena.json("config", "show")[1] == before  # nothing applied
    code, out, _ = daena("config", "import", str(policy), "--yes")
    assert code == 0 and "filesystem_write: on -> off" in out
    _, after = daena.json("config", "show")
    assert isinstance(after, dict) and after["tool_enabled"] == {"git_status": True}


@pytest.mark.skipif(sys.platform == "win32", reason="pty")
@pytest.mark.parametrize(("answer", "applied"), [("y", True), ("n", False)])
def test_config_import_asks_on_a_terminal(
    workspace: Path, db_path: Path, tmp_path: Path, answer: str, applied: bool
) -> None:
    import os
    import pty

    base = ["--db", str(db_path), "--workspace", str(workspace), "--operator", "op@test"]
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"max_steps_per_run": 4}))
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "daena_tui", *base, "config", "import", str(policy)],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(follower)
    os.write(leader, f"{answer}\n".encode())
    out, err = proc.communicate(timeout=60)
    os.close(leader)
    assert "max_steps_per_run: 20 -> 4" in out and "apply" in err.lower()
    assert proc.returncode == (0 if applied else 1), err
    show = subprocess.run(
        [sys.executable, "-m", "daena_tui", *base, "--json", "config", "show"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(show.stdout)["max_steps_per_run"] == (4 if applied else 20)


def test_a_missing_env_file_is_an_error(daena: Daena, tmp_path: Path) -> None:
    missing = tmp_path / "missing.env"
    code, out, err = daena("--env-file", str(missing), "config", "show")
    assert code == 2 and out == ""
    assert "--env-file" in err and str(missing) in err and "Traceback" not in err


def test_a_missing_env_file_stops_the_console_before_it_opens(tmp_path: Path) -> None:
    missing = tmp_path / "missing.env"
    proc = subprocess.run(
        [sys.executable, "-m", "daena_tui", "--env-file", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2 and "--env-file" in proc.stderr


def test_config_export_dash_writes_to_stdout(
    daena: Daena, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = daena("config", "export", "-o", "-")
    assert code == 0 and json.loads(out)["approval_mode"] == "require_approval"
    assert not (tmp_path / "-").exists()
