"""Policy (engine/policy.py): config validation and the decision order."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import AuditFilter, ConfigError, Engine, Settings
from engine.policy import validate_config
from tests.conftest import make_settings


async def test_seeded_from_config_file(eng: Engine) -> None:
    config = await eng.config()
    assert config.approval_mode == "require_approval"
    assert config.max_steps_per_run == 20
    assert config.tool_enabled["filesystem_write"] is False
    seed = [r for r in await eng.audit.page() if r.action == "config_seed"]
    assert len(seed) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"approval_mode": "yolo"}, "approval_mode"),
        ({"max_steps_per_run": -1}, "max_steps_per_run"),
        ({"max_steps_per_run": 0}, "max_steps_per_run"),
        ({"max_retries_per_tool": -2}, "max_retries_per_tool"),
        ({"max_retries_per_tool": 10_000}, "max_retries_per_tool"),
        ({"lockdown": "maybe"}, "lockdown"),
        ({"tool_enabled": {"no_such_tool": True}}, "tool_enabled"),
        ({"surprise": 1}, "surprise"),
        ({"budget": {"max_steps_per_run": -5}}, "max_steps_per_run"),
    ],
)
async def test_invalid_changes_rejected_and_nothing_stored(
    eng: Engine, changes: dict[str, object], field: str
) -> None:
    before = await eng.config()
    audit_before = await eng.audit.count()
    with pytest.raises(ConfigError) as info:
        await eng.update_config(changes)
    assert field in info.value.message
    assert await eng.config() == before
    assert await eng.audit.count() == audit_before


async def test_change_is_audited_with_operator_and_announced(eng: Engine) -> None:
    with eng.bus.subscription() as events:
        await eng.update_config({"budget": {"max_steps_per_run": 5}}, operator="alice")
        event = await events.get()
    assert (await eng.config()).max_steps_per_run == 5
    record = (await eng.audit.page(limit=1))[0]
    assert (record.action, record.actor) == ("config_change", "alice")
    assert type(event).__name__ in {"AuditAppended", "ConfigChanged"}


def test_original_nested_budget_shape_is_accepted() -> None:
    config = validate_config({"approval_mode": "auto", "budget": {"max_steps_per_run": 3}})
    assert config.max_steps_per_run == 3


async def test_decision_order(eng: Engine) -> None:
    """lockdown → unknown → disabled → invalid args → allowlist → dry run → approval → run."""
    await eng.update_config({"lockdown": True})
    assert "lockdown" in ((await eng.run("no_such_tool")).error or "")
    await eng.update_config({"lockdown": False})
    unknown = await eng.run("no_such_tool")
    assert unknown.status == "refused" and "unknown tool" in (unknown.error or "")
    disabled = await eng.run("filesystem_write", {"path": 1})
    assert disabled.status == "refused" and "disabled" in (disabled.error or "")
    await eng.set_tool_enabled("filesystem_write", True)
    invalid = await eng.run("filesystem_write", {"path": "../x", "content": 1})
    assert invalid.status == "refused" and "args.content" in (invalid.error or "")
    escape = await eng.run("filesystem_write", {"path": "../x", "content": "x"})
    assert escape.status == "refused" and "outside" in (escape.error or "")
    dry = await eng.run("filesystem_write", {"path": "x.txt", "content": "x"}, dry_run=True)
    assert dry.status == "dry_run" and dry.approval_request_id is None
    risky = await eng.run("filesystem_write", {"path": "x.txt", "content": "x"})
    assert risky.status == "pending_approval" and risky.approval_request_id
    low = await eng.run("git_status")
    assert low.status == "ok"
    await eng.update_config({"approval_mode": "auto"})
    runs = await eng.run("filesystem_write", {"path": "x.txt", "content": "x"})
    assert runs.status == "ok"


async def test_require_approval_for_risky_switch(eng: Engine) -> None:
    await eng.update_config(
        {"require_approval_for_risky": False, "tool_enabled": {"filesystem_write": True}}
    )
    assert (await eng.run("filesystem_write", {"path": "y.txt", "content": "y"})).status == "ok"


async def test_dry_run_default(eng: Engine, workspace: Path) -> None:
    await eng.update_config({"dry_run_default": True, "approval_mode": "auto"})
    await eng.set_tool_enabled("filesystem_write", True)
    result = await eng.run("filesystem_write", {"path": "z.txt", "content": "z"})
    assert result.status == "dry_run" and not (workspace / "z.txt").exists()
    forced = await eng.run("filesystem_write", {"path": "z.txt", "content": "z"}, dry_run=False)
    assert forced.status == "ok" and (workspace / "z.txt").exists()


async def test_lockdown_from_environment_cannot_be_lifted(workspace: Path, db_path: Path) -> None:
    settings: Settings = make_settings(workspace, db_path, SECURITY_LOCKDOWN_MODE="true")
    async with Engine.open(settings) as eng:
        await eng.update_config({"lockdown": False})
        assert await eng.lockdown() == (True, "SECURITY_LOCKDOWN_MODE")
        result = await eng.run("git_status")
        assert result.status == "refused" and "lockdown" in (result.error or "")


async def test_config_persists_across_restarts(settings: Settings) -> None:
    async with Engine.open(settings) as eng:
        await eng.update_config({"max_retries_per_tool": 7})
    async with Engine.open(settings) as eng:
        assert (await eng.config()).max_retries_per_tool == 7


async def test_refusals_carry_a_stable_code(eng: Engine) -> None:
    assert (await eng.run("no_such_tool")).refused_by == "unknown_tool"
    assert (await eng.run("filesystem_write", {})).refused_by == "disabled"
    assert (await eng.run("filesystem_read", {"path": 3})).refused_by == "invalid_args"
    assert (await eng.run("filesystem_read", {"path": "../x"})).refused_by == "outside_workspace"
    await eng.update_config({"lockdown": True})
    assert (await eng.run("git_status")).refused_by == "lockdown"
    await eng.update_config({"lockdown": False})
    assert (await eng.run("git_status")).refused_by is None


async def test_dry_runs_follow_policy_changes_from_another_process(
    eng: Engine, settings: Settings
) -> None:
    """A dry run may start from the last policy seen; what it records follows the fresh one."""
    assert (await eng.run("git_status", dry_run=True)).status == "dry_run"
    async with Engine.open(settings) as other:  # a second connection, like another process
        await other.update_config({"lockdown": True})
        locked = await eng.run("git_status", dry_run=True)
        assert (locked.status, locked.refused_by) == ("refused", "lockdown")
        await other.set_tool_enabled("git_diff", False)
        await other.update_config({"lockdown": False})
        assert (await eng.run("git_status", dry_run=True)).status == "dry_run"
        disabled = await eng.run("git_diff", dry_run=True)
        assert (disabled.status, disabled.refused_by) == ("refused", "disabled")
        await other.set_tool_enabled("git_diff", True)
        assert (await eng.run("git_diff", dry_run=True)).status == "dry_run"
    record = (await eng.audit.page(AuditFilter(status="refused")))[0]
    assert record.tool == "git_diff" and "disabled" in (record.error or "")


async def test_an_import_replaces_the_tool_toggles(eng: Engine) -> None:
    """A tool the imported document does not list is back to its default (high risk: off)."""
    await eng.set_tool_enabled("filesystem_write", True)
    await eng.set_tool_enabled("apply_patch", True)
    document = {"approval_mode": "require_approval", "tool_enabled": {"git_status": True}}
    plan = await eng.policy.plan_import(document)
    changes = {c.key: (c.old, c.new) for c in plan.changes}
    assert changes["tool_enabled.filesystem_write"] == (True, False)
    assert changes["tool_enabled.apply_patch"] == (True, False)
    config = await eng.policy.replace(document, "alice", expected=plan.before)
    assert config.tool_enabled == {"git_status": True}
    assert not config.enabled("filesystem_write", False)
    disabled = await eng.run("filesystem_write", {"path": "x.txt", "content": "x"})
    assert disabled.status == "refused" and "disabled" in (disabled.error or "")
    [record] = await eng.audit.page(AuditFilter(action="config_import"), limit=1)
    assert record.actor == "alice"
    assert "filesystem_write: on -> off" in (record.result_summary or "")


async def test_an_import_refuses_when_the_policy_changed_since_its_diff(eng: Engine) -> None:
    plan = await eng.policy.plan_import({"max_steps_per_run": 7})
    await eng.update_config({"max_steps_per_run": 3})
    with pytest.raises(ConfigError, match="changed since"):
        await eng.policy.replace({"max_steps_per_run": 7}, "alice", expected=plan.before)
    assert (await eng.config()).max_steps_per_run == 3


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"max_steps_per_run": True}, "max_steps_per_run"),
        ({"max_retries_per_tool": False}, "max_retries_per_tool"),
        ({"max_steps_per_run": "5"}, "max_steps_per_run"),
        ({"max_steps_per_run": 5.0}, "max_steps_per_run"),
        ({"lockdown": 1}, "lockdown"),
        ({"dry_run_default": "false"}, "dry_run_default"),
        ({"tool_enabled": {"git_status": 0}}, "tool_enabled.git_status"),
        ({"budget": {"max_steps_per_run": 5}, "max_steps_per_run": 7}, "given twice"),
        ({"budget": {"max_steps_per_run": 5}, "max_steps_per_run": 5}, "given twice"),
        ({"budget": {"max_steps": 5}}, "budget.max_steps"),
        ({"budget": 5}, "budget"),
    ],
)
async def test_values_are_never_coerced_by_a_change_or_an_import(
    eng: Engine, document: dict[str, object], field: str
) -> None:
    before = await eng.config()
    audit_before = await eng.audit.count()
    for attempt in (eng.update_config, lambda d: eng.policy.replace(d, "alice")):
        with pytest.raises(ConfigError) as info:
            await attempt(document)
        assert field in info.value.message
    assert await eng.config() == before
    assert await eng.audit.count() == audit_before
