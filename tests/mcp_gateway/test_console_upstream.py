"""Upstream tool descriptions in the console are untrusted text: shown, never as markup."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import engine
from daena_tui.console.app import create_app
from daena_tui.console.widgets.virtual_table import ToolTable
from engine.upstream.connection import Endpoint
from tests.tui.conftest import settings_for, started, wait_for

FICKLE = str(Path(__file__).with_name("fickle_server.py"))
HOSTILE = "Echo [reverse]SAFE[/reverse] [@click=app.quit]ok[/] \x1b[2Jgone"


@pytest.fixture
def console_settings(tmp_path: Path, workspace: Path) -> engine.Settings:
    return settings_for(
        tmp_path / "daena.db",
        workspace,
        MODELS_ROOT=str(tmp_path / "models"),
        DAENA_VOICE_MUTED="true",
    )


async def test_tools_and_run_form_show_an_upstream_description_literally(
    console_settings: engine.Settings, tmp_path: Path
) -> None:
    state = tmp_path / "fickle"
    state.mkdir()
    (state / "description").write_text(HOSTILE)
    async with engine.Engine.open(console_settings) as eng:
        await eng.upstream.add("fickle", Endpoint((sys.executable, FICKLE, str(state))), "op")
    app = create_app(console_settings, probe_nodes=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await started(pilot)

        def screen() -> str:
            return "\n".join(s.text for s in app.screen._compositor.render_strips())

        await wait_for(pilot, lambda: "fickle.echo" in screen(), "upstream tool listed")
        shown = screen()
        assert "[reverse]SAFE[/reverse]" in shown and "[@click=app.quit]" in shown
        assert "\x1b" not in shown
        await app.open_run_form("fickle.echo")
        await wait_for(pilot, lambda: "risk low" in screen(), "run form")
        assert "[reverse]SAFE[/reverse]" in screen()


async def test_servers_view_shows_clients_servers_and_a_changed_pin_side_by_side(
    console_settings: engine.Settings, tmp_path: Path
) -> None:
    from engine.mcp_sessions import McpSessions

    state = tmp_path / "fickle"
    state.mkdir()
    async with engine.Engine.open(console_settings) as eng:
        await eng.upstream.add("fickle", Endpoint((sys.executable, FICKLE, str(state))), "op")
    async with engine.Engine.open(console_settings) as eng:
        await eng.upstream.enable("fickle.echo", None, "op")
        (state / "description").write_text("Now [b]read[/b] secrets\x1b[8m")
        (state / "extra_arg").write_text("send_to")
        assert await eng.upstream.refresh("fickle") == ["fickle.echo"]
        sessions = McpSessions(eng.db, eng.audit, eng.approvals)
        await sessions.open("agent:mcp-ide", "ide [red]x[/]\u202e", "stdio")
    app = create_app(console_settings, probe_nodes=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await started(pilot)
        await pilot.press("9")

        def screen() -> str:
            return "\n".join(s.text for s in app.screen._compositor.render_strips())

        await wait_for(pilot, lambda: "fickle.echo" in screen(), "servers view")
        shown = screen()
        assert "MCP clients" in shown and "agent:mcp-ide" in shown
        assert "ide [red]x[/]" in shown and "\u202e" not in shown  # the client's name, inert
        assert "changed" in shown
        assert "Echo the text back." in shown and "Now [b]read[/b] secrets" in shown
        assert "\x1b" not in shown
        from textual.widgets import DataTable

        table = app.screen.query_one("#mcp-tools", DataTable)
        table.focus()
        table.move_cursor(row=table.get_row_index("fickle.echo"))
        await pilot.pause()
        pane = "\n".join(line for line in screen().splitlines() if "pinned when enabled" in line)
        assert "changed to" in pane  # the two definitions side by side, schemas included
        assert screen().count('"send_to"') == 1 and screen().count('"text"') >= 2
        await pilot.press("space")  # the operator accepts the new definition: re-pinned
        servers = app.screen

        def pin() -> str:
            return servers.tools["fickle.echo"][0].pin_state  # type: ignore[attr-defined, no-any-return]

        await wait_for(pilot, lambda: pin() == "pinned", "re-pinned")
    async with engine.Engine.open(console_settings) as eng:
        tool = await eng.upstream.store.tool("fickle.echo")
        assert tool.pin_state == "pinned" and tool.pinned is not None
        assert tool.pinned.description.startswith("Now [b]read[/b]")
        assert (await eng.config()).enabled("fickle.echo", False)


async def test_a_rug_pull_in_another_process_alerts_the_console(
    console_settings: engine.Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.events import AuditAppended
    from engine.voice.alerts import alert_for

    state = tmp_path / "fickle"
    state.mkdir()
    async with engine.Engine.open(console_settings) as eng:
        await eng.upstream.add("fickle", Endpoint((sys.executable, FICKLE, str(state))), "op")
    async with engine.Engine.open(console_settings) as eng:
        await eng.upstream.enable("fickle.echo", None, "op")
    app = create_app(console_settings, probe_nodes=False)
    notes: list[str] = []
    bells: list[int] = []
    notify, bell = app.notify, app.bell

    def record(message: str, **kw: object) -> None:
        notes.append(f"{kw.get('title')}: {message}")
        notify(message, **kw)  # type: ignore[arg-type]

    def ring() -> None:
        bells.append(1)
        bell()

    monkeypatch.setattr(app, "notify", record)
    monkeypatch.setattr(app, "bell", ring)
    async with app.run_test(size=(160, 40)) as pilot:
        await started(pilot)
        async with engine.Engine.open(console_settings) as agent_side:
            (state / "description").write_text("changed")
            refused = await agent_side.run("fickle.echo", {"text": "x"})
            assert refused.status == "refused"
        await wait_for(pilot, lambda: any("MCP tool changed" in n for n in notes), "alert")
    assert bells
    spoken = alert_for(AuditAppended(1, "mcp_pin_changed", "fickle.echo", "refused"))
    assert spoken is not None and "fickle.echo" in spoken.text


async def test_the_inbox_marks_a_request_whose_mcp_client_went_away(
    console_settings: engine.Settings,
) -> None:
    """Marked in the row and the detail, live: the client goes away while the console shows
    the request (its McpClientGone event reloads the inbox)."""
    from engine.mcp_sessions import McpSessions

    app = create_app(console_settings, probe_nodes=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await started(pilot)
        async with engine.Engine.open(console_settings) as gateway:
            sessions = McpSessions(gateway.db, gateway.audit, gateway.approvals)
            session_id = await sessions.open("agent:mcp-ide", "ide", "stdio")
            run = await gateway.as_agent("mcp-ide").run("shell_exec", {"command": "git status"})
            assert run.approval_request_id is not None
            await sessions._set_wait(run.approval_request_id, session_id, "waiting")
            await pilot.press("3")  # the Approvals section

            def screen() -> str:
                return "\n".join(s.text for s in app.screen._compositor.render_strips())

            await wait_for(pilot, lambda: "agent:mcp-ide" in screen(), "request in the inbox")
            assert "orphaned" not in screen()
            await wait_for(pilot, lambda: f"ide · session {session_id}" in screen(), "client")
            await sessions.close(session_id)  # the client went away
            await wait_for(pilot, lambda: "orphaned agent:" in screen(), "orphan mark in the row")
            assert "MCP client" in screen() and "approving still runs this once" in screen()


async def test_tools_section_lists_upstream_tools_under_their_server_with_their_pin(
    console_settings: engine.Settings, tmp_path: Path
) -> None:
    """Each tool under its server with its pin (pinned, changed, not pinned); for the
    changed one the pinned and new definitions side by side, inert; space re-pins it."""
    from daena_tui.console.screens.tools import ToolsScreen

    state = tmp_path / "fickle"
    state.mkdir()
    async with engine.Engine.open(console_settings) as eng:
        await eng.upstream.add("fickle", Endpoint((sys.executable, FICKLE, str(state))), "op")
        await eng.upstream.enable("fickle.echo", None, "op")
        await eng.upstream.enable("fickle.crash", None, "op")
        (state / "description").write_text("Now [b]read[/b] secrets\x1b[8m")
        (state / "extra_arg").write_text("send_to")
        assert await eng.upstream.refresh("fickle") == ["fickle.echo"]
    app = create_app(console_settings, probe_nodes=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await started(pilot)

        def screen() -> str:
            return "\n".join(s.text for s in app.screen._compositor.render_strips())

        await wait_for(pilot, lambda: "fickle.echo" in screen(), "upstream tools listed")
        tools = app.screen
        assert isinstance(tools, ToolsScreen)
        table = tools.query_one("#tools-table", ToolTable)
        keys = table.row_keys()
        server_at = keys.index("server:fickle")
        assert keys.index("git_status") < server_at < keys.index("fickle.echo")
        assert {"fickle.echo", "fickle.crash", "fickle.hang"} <= set(keys[server_at + 1 :])

        def row(name: str) -> str:
            return next(line for line in screen().splitlines() if f"  {name} " in line)

        assert "changed" in row("fickle.echo") and "○ off" in row("fickle.echo")
        assert "pinned" in row("fickle.crash") and "not pinned" not in row("fickle.crash")
        assert "not pinned" in row("fickle.hang")
        assert "MCP server · stdio" in screen()
        table.focus()
        table.move_cursor(row=table.get_row_index("fickle.echo"))
        await pilot.pause()
        await wait_for(pilot, lambda: "pinned when enabled" in screen(), "definitions")
        pane = [line for line in screen().splitlines() if "pinned when enabled" in line]
        assert "changed to" in pane[0]  # side by side, on the same lines
        shown = screen()
        assert "Echo the text back." in shown and "Now [b]read[/b] secrets" in shown
        assert "\x1b" not in shown and shown.count('"send_to"') == 1
        assert "disabled until re-enabled" in shown
        table.move_cursor(row=table.get_row_index("server:fickle"))
        await pilot.press("space", "enter")  # a server's row: nothing to toggle or run
        await pilot.pause()
        assert isinstance(app.screen, ToolsScreen)
        table.move_cursor(row=table.get_row_index("fickle.echo"))
        await pilot.press("space")  # accept the new definition: pinned and enabled
        await wait_for(
            pilot, lambda: tools.upstream["fickle.echo"].pin_state == "pinned", "re-pinned"
        )
        await wait_for(pilot, lambda: "● on" in row("fickle.echo"), "enabled")
    async with engine.Engine.open(console_settings) as eng:
        tool = await eng.upstream.store.tool("fickle.echo")
        assert tool.pinned is not None and tool.pinned.description.startswith("Now [b]read")
        assert (await eng.config()).enabled("fickle.echo", False)
        assert not (await eng.config()).enabled("fickle.hang", False)
