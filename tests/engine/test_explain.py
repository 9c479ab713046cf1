"""Why a call would be decided as it is: the executor's own checks, and nothing run.

An agent could try to use "explain" (or the what-if tester) to make the engine act: every
test here also checks that no file changed and no audit record was written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Engine
from engine.errors import ConfigError
from engine.runs import RunRequest
from engine.statuses import RunStatus


async def audit_size(eng: Engine) -> int:
    return await eng.audit.count()


def write(path: str, content: str = "x") -> RunRequest:
    return RunRequest(tool="filesystem_write", args={"path": path, "content": content})


@pytest.mark.parametrize(
    ("changes", "outcome", "rule"),
    [
        (None, "refused", "disabled"),
        ({"tool_enabled": {"filesystem_write": True}}, "needs_approval", "risk_mode"),
        (
            {"tool_enabled": {"filesystem_write": True}, "approval_mode": "auto"},
            "runs",
            "approval_off",
        ),
        (
            {"tool_enabled": {"filesystem_write": True}, "dry_run_default": True},
            "dry_run",
            "dry_run",
        ),
        ({"tool_enabled": {"filesystem_write": True}, "lockdown": True}, "refused", "lockdown"),
    ],
)
async def test_each_rule_is_named_and_nothing_runs(
    eng: Engine, workspace: Path, changes: dict[str, object] | None, outcome: str, rule: str
) -> None:
    before = await audit_size(eng)
    decision = await eng.explain(write("new.txt"), policy_changes=changes)
    assert (decision.outcome, decision.rule) == (outcome, rule)
    assert not (workspace / "new.txt").exists()
    assert await audit_size(eng) == before
    # the what-if policy was never stored
    assert not (await eng.policy.current()).tool_enabled.get("filesystem_write", False)


async def test_the_explanation_matches_what_a_run_does(eng: Engine, workspace: Path) -> None:
    """The same call explained and then run: a refusal and an approval request agree."""
    outside = write("../escape.txt")
    await eng.policy.update({"tool_enabled": {"filesystem_write": True}}, "op")
    explained = await eng.explain(outside)
    ran = await eng.run(outside)
    assert explained.outcome == "refused" and ran.status is RunStatus.REFUSED
    assert explained.text == ran.error
    explained = await eng.explain(write("in.txt"))
    ran = await eng.run(write("in.txt"))
    assert explained.outcome == "needs_approval" and ran.status is RunStatus.PENDING_APPROVAL
    assert not (workspace / "in.txt").exists()


async def test_low_risk_runs_and_unknown_and_invalid_are_refused(eng: Engine) -> None:
    assert (await eng.explain(RunRequest(tool="git_status"))).rule == "low_risk"
    assert (await eng.explain(RunRequest(tool="no_such_tool"))).rule == "unknown_tool"
    bad = RunRequest(tool="filesystem_read", args={"path": 7})
    decision = await eng.explain(bad)
    assert (decision.outcome, decision.rule) == ("refused", "invalid_args")
    assert "path" in decision.text


async def test_an_allowlist_miss_names_the_closest_entry(eng: Engine) -> None:
    call = RunRequest(tool="shell_exec", args={"command": "git stauts"})
    decision = await eng.explain(call, policy_changes={"tool_enabled": {"shell_exec": True}})
    assert decision.rule == "policy"
    assert "closest entry: 'git status'" in decision.text


async def test_a_bad_what_if_change_is_a_config_error_naming_the_field(eng: Engine) -> None:
    with pytest.raises(ConfigError, match="approval_mode"):
        await eng.explain(write("a"), policy_changes={"approval_mode": "sometimes"})
    with pytest.raises(ConfigError, match="unknown tool 'nope'"):
        await eng.explain(write("a"), policy_changes={"tool_enabled": {"nope": True}})
