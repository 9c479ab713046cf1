"""The repository-work tools (issue 18) through `daena mcp serve` with the SDK's real client:
listed with their schemas when enabled, called through the policy, refusals as tool errors."""

from __future__ import annotations

from engine import Settings
from tests.mcp_gateway.conftest import mcp_client


async def test_listed_and_called_through_the_gateway(settings: Settings) -> None:
    async with mcp_client(settings, "--agent", "bot") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        found = await client.call_tool("workspace_search", {"pattern": "print"})
        listed = await client.call_tool("filesystem_list", {"recursive": True})
        log = await client.call_tool("git_log", {"max_count": 1})
        escape = await client.call_tool("filesystem_list", {"path": "../"})
        git_dir = await client.call_tool("workspace_search", {"pattern": "x", "path": ".git"})
    on = {"filesystem_list", "workspace_search", "filesystem_edit_preview", "git_log", "git_show"}
    assert on | {"system_info"} <= set(tools)
    assert "filesystem_edit" not in tools and "run_tests" not in tools  # off by default
    assert all(tools[name].annotations.read_only_hint is True for name in on)
    assert "pattern" in tools["workspace_search"].input_schema["properties"]
    assert found.is_error is False
    assert [m["path"] for m in found.structured_content["result"]["matches"]] == ["src/app.py"]
    entries = {e["path"] for e in listed.structured_content["result"]["entries"]}
    assert {"README.md", "src", "src/app.py"} <= entries and ".git" not in entries
    assert log.structured_content["result"]["commits"][0]["summary"] == "initial"
    assert escape.is_error and escape.structured_content["rule"] == "outside_workspace"
    assert git_dir.is_error and git_dir.structured_content["rule"] == "outside_workspace"
