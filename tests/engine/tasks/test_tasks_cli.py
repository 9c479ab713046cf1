"""`daena tasks ...` through the real `daena` entry point (with cli_tasks registered the way
the lead will register it), on a real git workspace: output, JSON and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tasks_fake_ollama import closed_port_url

from daena_tui.cli import dispatch as cli

Daena = Callable[..., tuple[int, str, str]]


@pytest.fixture
def daena(tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Daena:
    monkeypatch.setenv("OLLAMA_BASE_URL", closed_port_url())
    for name in ("SHELL_ALLOWLIST", "DAENA_OPERATOR", "EXECUTION_WORKSPACE_ROOT"):
        monkeypatch.delenv(name, raising=False)
    base = [
        "--db",
        str(tmp_path / "cli.db"),
        "--workspace",
        str(workspace),
        "--env-file",
        "",  # read no .env
    ]

    def run(*argv: str, operator: str = "cli-user") -> tuple[int, str, str]:
        code = cli.main([*base, "--operator", operator, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_parser_registers_every_action() -> None:
    assert "daena_tui.cli.tasks" in cli.COMMAND_MODULE_NAMES
    parser = cli.build_parser()
    for argv in (
        ["tasks"],
        ["tasks", "list", "--status", "waiting_approval"],
        ["tasks", "playbooks"],
        ["tasks", "create", "--playbook", "run_tests", "--var", "path=tests", "--max-steps", "3"],
        ["tasks", "create", "--goal", "look around", "--max-seconds", "60", "--run"],
        ["tasks", "show", "task_x"],
        ["tasks", "run", "task_x", "--wait", "5"],
        ["tasks", "resume", "task_x", "--rerun-interrupted"],
        ["tasks", "cancel", "task_x", "--reason", "no"],
    ):
        assert callable(parser.parse_args(argv).handler)


def test_create_run_show_list_inspect_repo(daena: Daena, workspace: Path) -> None:
    (workspace / "app.py").write_text("changed\n", encoding="utf-8")
    code, out, _ = daena("--json", "tasks", "create", "--playbook", "inspect_repo")
    assert code == 0
    created = json.loads(out)
    task_id = created["id"]
    assert created["status"] == "pending" and len(created["steps"]) == 3

    code, out, _ = daena("tasks", "run", task_id)
    assert code == 0
    assert f"task      {task_id}" in out
    assert "status    completed: all 3 steps finished" in out
    assert "budget    3/20 steps" in out
    assert "git_status" in out and "succeeded" in out

    code, out, _ = daena("tasks", "list")
    assert code == 0 and task_id in out and "3/20" in out and "playbook:inspect_repo" in out

    code, out, _ = daena("--json", "tasks", "show", task_id)
    shown = json.loads(out)
    assert shown["status"] == "completed" and shown["steps_started"] == 3
    assert "app.py" in shown["steps"][0]["result_summary"]

    code, out, _ = daena("--json", "tasks", "list", "--status", "failed")
    assert code == 0 and json.loads(out) == []


def test_playbooks_listing(daena: Daena) -> None:
    code, out, _ = daena("tasks", "playbooks")
    assert code == 0
    for name in (
        "inspect_repo",
        "run_tests  (2 steps; variables: path=tests)",
        "apply_reviewed_patch",
    ):
        assert name in out


def test_run_tests_waits_for_approval_then_resumes(daena: Daena, workspace: Path) -> None:
    tests = workspace / "tests"
    tests.mkdir()
    (tests / "test_ok.py").write_text("def test_ok():\n    assert True\n", encoding="utf-8")
    code, out, _ = daena("tasks", "create", "--playbook", "run_tests", "--run")
    assert code == 3, out  # needs approval
    assert "waiting_approval" in out
    approve_line = next(line for line in out.splitlines() if line.startswith("approve:"))
    request_id = approve_line.split()[4]
    task_id = approve_line.split()[-1]

    code, out, _ = daena("approvals", "approve", request_id, operator="the-operator")
    assert code == 0, out
    code, out, _ = daena("tasks", "resume", task_id)
    assert code == 0, out
    assert "status    completed" in out
    code, out, _ = daena("--json", "tasks", "show", task_id)
    pytest_step = json.loads(out)["steps"][0]
    assert pytest_step["run_status"] == "ok" and "1 passed" in pytest_step["result_summary"]


def test_bad_input_exits_2_with_the_field_named(daena: Daena) -> None:
    code, _, err = daena("tasks", "create", "--playbook", "run_tests", "--var", "path=-x")
    assert code == 2 and "variables.path" in err and "Traceback" not in err
    code, _, err = daena("tasks", "create", "--playbook", "run_tests", "--var", "nope")
    assert code == 2 and "--var: 'nope' must look like name=value" in err
    code, _, err = daena("tasks", "create", "--goal", "x", "--var", "a=b")
    assert code == 2 and "--var" in err
    code, _, err = daena("tasks", "create", "--playbook", "missing")
    assert code == 2 and "no playbook 'missing'" in err
    code, _, err = daena("tasks", "show", "task_nope")
    assert code == 2 and "no task 'task_nope'" in err
    code, _, err = daena("tasks", "create", "--goal", "x", "--max-steps", "0")
    assert code == 2 and "max_steps" in err
    code, _, err = daena("tasks", "list", "--limit", "3")
    assert code == 0
    with pytest.raises(SystemExit) as usage:
        daena("tasks", "create")
    assert usage.value.code == 2


def test_cancel_and_planner_failure_exit_codes(daena: Daena) -> None:
    code, out, _ = daena("--json", "tasks", "create", "--goal", "describe the repo")
    task_id = json.loads(out)["id"]
    code, out, _ = daena("tasks", "cancel", task_id, "--reason", "not today")
    assert code == 0 and "cancelled by cli-user: not today" in out
    code, _, err = daena("tasks", "cancel", task_id)
    assert code == 2 and "already cancelled" in err

    code, out, _ = daena("tasks", "create", "--goal", "describe the repo", "--run")
    assert code == 1
    assert "status    failed: planner: Ollama at http://127.0.0.1:" in out
    assert "is not reachable" in out
