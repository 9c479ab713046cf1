"""shell_exec and sandbox_worker_run as tools: real processes, real git repositories."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
import pytest

from engine.errors import CommandFailed, ConfinementError, PolicyError, ToolFailure
from engine.tools.builtin import builtin_tools
from engine.tools.builtin.sandbox import SANDBOX_WORKER_RUN
from engine.tools.builtin.shell import OUTPUT_CAP, SHELL_EXEC
from engine.tools.spec import Risk, ToolContext, ToolSpec

MakeCtx = Callable[..., ToolContext]
SECRETS = {
    "EXECUTION_TOKEN": "sekrit-123",
    "WINDOWS_NODE_TOKEN": "node-sekrit-456",
    "GITHUB_TOKEN": "ghp_sekrit789",
    "AWS_SECRET_ACCESS_KEY": "aws-sekrit-000",
}


async def run(spec: ToolSpec, ctx: ToolContext, **kwargs: Any) -> dict[str, Any]:
    """What the executor does: validate, check, run."""
    args = spec.args_model.model_validate(kwargs)
    assert spec.check is not None
    spec.check(ctx, args)
    return await spec.run(ctx, args)


def test_declarations() -> None:
    tools = {t.name: t for t in builtin_tools()}
    assert tools["shell_exec"].risk is Risk.MEDIUM and tools["shell_exec"].default_enabled
    sandbox = tools["sandbox_worker_run"]
    assert sandbox.risk is Risk.MEDIUM and not sandbox.default_enabled
    schema = SHELL_EXEC.json_schema()
    assert set(schema["properties"]) == {"command", "timeout_sec"}


@pytest.mark.parametrize("timeout", [0, -1, 601])
def test_timeout_argument_is_bounded(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout_sec"):
        SHELL_EXEC.args_model.model_validate({"command": "git status", "timeout_sec": timeout})


async def test_git_status_really_runs_in_the_workspace(
    git_workspace: Path, make_ctx: MakeCtx, spawn_spy: list[dict[str, Any]]
) -> None:
    (git_workspace / "new.txt").write_text("x\n")
    result = await run(SHELL_EXEC, make_ctx(), command="git status --short")
    # The hardened git (engine.safety.git_hardening): the effective argv ends with what was
    # asked, and the child ran with no system or global configuration.
    argv = result["argv"]
    assert argv[0] == "git" and argv[argv.index("status") :][:2] == ["status", "--short"]
    assert spawn_spy[0]["env"]["GIT_CONFIG_NOSYSTEM"] == "1"
    assert result["returncode"] == 0
    assert "?? new.txt" in result["stdout"]
    assert result["timed_out"] is False and result["truncated"] is False
    assert [call["cwd"] for call in spawn_spy] == [git_workspace]


async def test_argv_list_form_runs(git_workspace: Path, make_ctx: MakeCtx) -> None:
    result = await run(SHELL_EXEC, make_ctx(), command=["git", "log", "--oneline"])
    assert "initial" in result["stdout"]


async def test_dry_run_reports_the_effective_argv_without_spawning(
    git_workspace: Path, make_ctx: MakeCtx, spawn_spy: list[object]
) -> None:
    assert SHELL_EXEC.dry_run is not None
    args = SHELL_EXEC.args_model.model_validate({"command": "git diff  --stat"})
    preview = await SHELL_EXEC.dry_run(make_ctx(), args)
    assert preview["command"] == ["git", "diff", "--stat"]
    assert preview["allowed_by"] == "git diff"
    # What would run: the hardened git with the spec's own options, exactly as `run` runs it.
    assert preview["argv"][0] == "git" and "--stat" in preview["argv"]
    assert {"--no-ext-diff", "--no-textconv"} <= set(preview["argv"])
    assert spawn_spy == []
    result = await run(SHELL_EXEC, make_ctx(), command="git diff --stat")
    assert result["argv"] == preview["argv"]


async def test_git_outside_a_repository_root_is_refused_before_spawning(
    workspace: Path, make_ctx: MakeCtx, forbid_spawn: list[object]
) -> None:
    with pytest.raises(ToolFailure, match="not a git repository root"):
        await run(SHELL_EXEC, make_ctx(), command="git status")


async def test_non_zero_exit_is_a_failure_with_the_result(
    workspace: Path, make_ctx: MakeCtx
) -> None:
    pygit2.init_repository(str(workspace)).free()  # no commits: `git log` exits 128
    with pytest.raises(CommandFailed) as failed:
        await run(SHELL_EXEC, make_ctx(), command="git log")
    assert "command: 'git log' exited with code 128" in str(failed.value)
    assert "does not have any commits" in str(failed.value)
    assert failed.value.result["returncode"] == 128
    assert "does not have any commits" in failed.value.result["stderr"]
    assert not failed.value.timed_out


async def test_timeout_is_a_failure_marked_timed_out(workspace: Path, make_ctx: MakeCtx) -> None:
    (workspace / "sleep.py").write_text("import time; print('start', flush=True); time.sleep(60)")
    ctx = make_ctx(SHELL_ALLOWLIST=[f"{sys.executable} sleep.py"])
    with pytest.raises(CommandFailed) as failed:
        await run(SHELL_EXEC, ctx, command=[sys.executable, "sleep.py"], timeout_sec=1)
    assert failed.value.timed_out
    assert failed.value.result["stdout"] == "start\n"
    assert "timed out" in str(failed.value)


async def test_output_cap_sets_truncated(workspace: Path, make_ctx: MakeCtx) -> None:
    (workspace / "big.py").write_text("import sys; sys.stdout.write('y' * 1_000_000)")
    ctx = make_ctx(SHELL_ALLOWLIST=[f"{sys.executable} big.py"])
    result = await run(SHELL_EXEC, ctx, command=[sys.executable, "big.py"])
    assert result["truncated"] is True
    assert len(result["stdout"]) == OUTPUT_CAP


async def test_missing_program(workspace: Path, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(SHELL_ALLOWLIST=["no-such-program-xyz --help"])
    with pytest.raises(ToolFailure, match="not found"):
        await run(SHELL_EXEC, ctx, command="no-such-program-xyz --help")


async def test_secrets_never_reach_the_child(
    workspace: Path, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    (workspace / "dump.py").write_text(
        "import os\nfor k, v in sorted(os.environ.items()): print(f'{k}={v}')\n"
    )
    ctx = make_ctx(SHELL_ALLOWLIST=["env", f"{sys.executable} dump.py"])
    for command in (["env"], [sys.executable, "dump.py"]):
        result = await run(SHELL_EXEC, ctx, command=command)
        assert "GIT_TERMINAL_PROMPT=0" in result["stdout"]
        assert "PATH=" in result["stdout"]
        for name, value in SECRETS.items():
            assert value not in result["stdout"]
            assert f"{name}=" not in result["stdout"]


# --- sandbox_worker_run ---------------------------------------------------------------------


async def test_sandbox_pip_version_runs_in_a_fresh_temp_dir(
    workspace: Path,
    make_ctx: MakeCtx,
    spawn_spy: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    result = await run(SANDBOX_WORKER_RUN, make_ctx(), command="pip --version")
    assert result["argv"] == [sys.executable, "-m", "pip", "--version"]
    assert result["returncode"] == 0 and result["stdout"].startswith("pip ")
    [call] = spawn_spy
    cwd = Path(call["cwd"])
    assert cwd == Path(result["cwd"]) and cwd != workspace
    assert cwd.name.startswith("daena-sandbox-") and not cwd.exists()  # thrown away
    env = call["env"]
    assert env["PIP_NO_INPUT"] == "1" and env["PIP_ONLY_BINARY"] == ":all:"
    for name, value in SECRETS.items():
        assert name not in env and value not in env.values()


async def test_sandbox_python_m_pip_show(workspace: Path, make_ctx: MakeCtx) -> None:
    result = await run(
        SANDBOX_WORKER_RUN, make_ctx(), command=["python", "-m", "pip", "show", "pip"]
    )
    assert result["argv"] == [sys.executable, "-m", "pip", "show", "pip"]
    assert "Name: pip" in result["stdout"]


async def test_sandbox_failure_carries_result(workspace: Path, make_ctx: MakeCtx) -> None:
    with pytest.raises(CommandFailed) as failed:
        await run(SANDBOX_WORKER_RUN, make_ctx(), command="pip show no-such-package-xyz-123")
    assert failed.value.result["returncode"] != 0


@pytest.mark.parametrize(
    "command",
    [
        "pip install requests",
        "pip uninstall -y pip",
        "python -m pip install x",
        "pip download -d /tmp/out requests",
        "pip download --dest=/tmp/out requests",
        "pip download ./local-project",
        "pip download ..",
        "pip download git+https://example.com/x.git",
        "pip download pkg@https://example.com/x.whl",
        "pip download -r /etc/passwd",
        "pip download --no-binary=:all: requests",
        "pip list --python=/bin/sh",
        "pip list --log=/tmp/log",
        "pip config list",
        "python -c print",
        "python -m pip download x",
        "pip list; id",
        "pip list && touch pwned",
        "sh -c 'pip list'",
    ],
)
async def test_sandbox_refusals_spawn_nothing(
    workspace: Path, make_ctx: MakeCtx, forbid_spawn: list[object], command: str
) -> None:
    with pytest.raises(PolicyError):
        await run(SANDBOX_WORKER_RUN, make_ctx(), command=command)
    assert forbid_spawn == []


async def test_paths_are_checked_again_when_the_approved_command_runs(
    git_workspace: Path, make_ctx: MakeCtx, forbid_spawn: list[object], tmp_path: Path
) -> None:
    """Approved while `sub` was a directory; swapped for a link out before the run."""
    (git_workspace / "sub").mkdir()
    (tmp_path / "elsewhere").mkdir()
    ctx = make_ctx()
    args = SHELL_EXEC.args_model.model_validate({"command": "git diff -- sub"})
    assert SHELL_EXEC.check is not None
    SHELL_EXEC.check(ctx, args)  # what the approval saw
    (git_workspace / "sub").rmdir()
    (git_workspace / "sub").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ConfinementError, match="outside the workspace"):
        await SHELL_EXEC.run(ctx, args)
    assert forbid_spawn == []
