"""Extend and warn: + gives the selected request ten more minutes (audited, bounded, seen
by other consoles), and a request entering the last DAENA_EXPIRY_WARNING_SECONDS gets a
highlighted row, one notification and, where voice is on, one spoken sentence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widget import Widget

import engine
from daena_tui.console.app import DaenaApp, create_app
from daena_tui.console.clock import Clock
from daena_tui.console.widgets.tables import RowTable
from engine.approvals import MAX_EXTENSION_SEC, MAX_REQUEST_LIFETIME_SEC

from .conftest import (
    OPERATOR,
    Recorded,
    link_espeak,
    needs_espeak,
    painted,
    started,
    text_of,
    wait_for,
)

SIZE = (100, 30)


class Ticking:
    """A clock the test moves: the console reads it, so the countdown follows it."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


async def pending_write(settings: engine.Settings, path: str = "a.txt") -> engine.ApprovalRequest:
    async with engine.Engine.open(settings) as other:  # another process, in effect
        await other.set_tool_enabled("filesystem_write", True)
        call = engine.RunRequest(tool="filesystem_write", args={"path": path, "content": "x"})
        return await other.request_approval(call)


async def inbox(pilot: Pilot[int], app: DaenaApp) -> str:
    await started(pilot)
    await pilot.press("alt+3")
    table = app.screen.query_one("#inbox", RowTable)
    await wait_for(pilot, lambda: table.row_count == 1, "the request in the inbox")
    table.focus()
    return text_of(app.screen.query_one("#approval-facts"))


@asynccontextmanager
async def facts_line(
    settings: engine.Settings, seconds_left: float
) -> AsyncIterator[tuple[Pilot[int], Ticking, Widget]]:
    """A console on the inbox, one request pending with `seconds_left` on its clock: the
    pilot, the clock (move it) and the facts line under the inbox."""
    request = await pending_write(settings)
    clock = Ticking(request.expires_at - seconds_left)
    app = create_app(settings, probe_nodes=False, clock=Clock(clock))
    async with app.run_test(size=SIZE) as pilot:
        await inbox(pilot, app)
        yield pilot, clock, app.screen.query_one("#approval-facts")


async def test_plus_extends_by_ten_minutes_audited_and_refused_past_the_bound(
    settings: engine.Settings, eng: engine.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = await pending_write(settings)
    clock = Ticking(request.expires_at - 600)  # ten minutes left, as the console sees it
    app = create_app(settings, probe_nodes=False, clock=Clock(clock))
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await inbox(pilot, app)
        facts = app.screen.query_one("#approval-facts")
        await wait_for(pilot, lambda: "expires in 10:00" in text_of(facts), "10:00 left")
        await pilot.press("plus")
        await wait_for(pilot, lambda: "expires in 20:00" in text_of(facts), "ten more minutes")
        assert told.titled("Extended")
        extended = await eng.approvals.get(request.id)
        assert extended.expires_at == pytest.approx(request.expires_at + 600)
        records = await eng.db.fetchall(
            "SELECT actor, args FROM audit WHERE action = 'approval_extended' AND approval_id = ?",
            (request.id,),
        )
        assert [row[0] for row in records] == [OPERATOR] and '"by_sec":600' in records[0][1]
        # Up to the bound, then + is refused with the rule named and nothing changed.
        life = extended.expires_at - extended.created_at
        while MAX_REQUEST_LIFETIME_SEC - life >= 600:
            step = min(MAX_EXTENSION_SEC, MAX_REQUEST_LIFETIME_SEC - life - 300)
            life = (await eng.extend(request.id, step)).expires_at - extended.created_at
        before = (await eng.approvals.get(request.id)).expires_at
        await pilot.press("plus")
        await wait_for(pilot, lambda: any("at most 4 h" in m for _, m, _ in told.notes), "refusal")
        assert (await eng.approvals.get(request.id)).expires_at == before


async def test_the_facts_line_paints_every_second_of_the_countdown(
    settings: engine.Settings,
) -> None:
    """The per-second update skips the layout pass when the line keeps its length; what is
    painted still follows the clock, and a shorter line (10:00 -> 9:59) is laid out anew."""
    async with facts_line(settings, 601) as (pilot, clock, facts):
        for left in ("10:01", "10:00", "9:59", "9:58"):
            await wait_for(pilot, lambda left=left: f"expires in {left}" in painted(facts), left)
            clock.now += 1


async def test_another_console_sees_the_new_expiry(
    settings: engine.Settings, eng: engine.Engine
) -> None:
    async with facts_line(settings, 600) as (pilot, _clock, facts):
        await wait_for(pilot, lambda: "expires in 10:00" in text_of(facts), "10:00 left")
        request = (await eng.approvals.list("pending", 1))[0]
        await eng.extend(request.id, 1800)  # the CLI or another console, in effect
        await wait_for(pilot, lambda: "expires in 40:00" in text_of(facts), "the new expiry")


async def test_a_request_near_expiry_is_highlighted_and_notified_once(
    settings: engine.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = await pending_write(settings)
    assert settings.daena_expiry_warning_seconds == 60  # the default
    clock = Ticking(request.expires_at - 90)
    app = create_app(settings, probe_nodes=False, clock=Clock(clock))
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await inbox(pilot, app)
        table = app.screen.query_one("#inbox", RowTable)
        screen = app.screen
        await wait_for(pilot, lambda: screen.ticks >= 1, "a tick")  # type: ignore[attr-defined]
        assert not told.titled("Expiring soon")
        assert not str(table.get_cell(request.id, "left")).startswith("!")
        clock.now += 40  # 50 s left: inside the window
        await wait_for(pilot, lambda: told.titled("Expiring soon"), "the warning")
        [message] = told.titled("Expiring soon")
        assert message.startswith("Approval for filesystem_write expires in 0:")
        await wait_for(  # the inbox's own countdown tick
            pilot, lambda: str(table.get_cell(request.id, "left")).startswith("!"), "highlight"
        )
        ticks = screen.ticks  # type: ignore[attr-defined]
        clock.now += 5
        await wait_for(pilot, lambda: screen.ticks >= ticks + 2, "two more ticks")  # type: ignore[attr-defined]
        assert len(told.titled("Expiring soon")) == 1, "once per request"
        await pilot.press("plus")  # out of the window again: the row is plain
        await wait_for(
            pilot,
            lambda: not str(table.get_cell(request.id, "left")).startswith("!"),
            "the highlight gone",
        )


async def test_the_warning_is_off_at_zero(
    tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .conftest import settings_for

    settings = settings_for(
        tmp_path / "d.db", workspace, DAENA_VOICE_MUTED="true", DAENA_EXPIRY_WARNING_SECONDS="0"
    )
    request = await pending_write(settings)
    clock = Ticking(request.expires_at - 30)
    app = create_app(settings, probe_nodes=False, clock=Clock(clock))
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await inbox(pilot, app)
        screen = app.screen
        await wait_for(pilot, lambda: screen.ticks >= 2, "ticks")  # type: ignore[attr-defined]
    assert not told.titled("Expiring soon")


@needs_espeak
async def test_the_warning_is_spoken_where_voice_is_on(
    voice_settings: engine.Settings,
    bin_dir: Path,
    no_coqui: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    link_espeak(bin_dir)  # espeak-ng speaks; no player, so the file is named
    request = await pending_write(voice_settings)
    clock = Ticking(request.expires_at - 50)
    app = create_app(voice_settings, probe_nodes=False, clock=Clock(clock))
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await inbox(pilot, app)
        await wait_for(pilot, lambda: told.titled("Voice alert not played"), "spoken")
    [spoken] = told.titled("Voice alert not played")
    assert spoken.startswith("Approval for filesystem_write expires in 0:")
    assert list((voice_settings.daena_db_path.parent / "voice").glob("*.wav"))


async def test_the_warning_comes_in_another_section_too(
    settings: engine.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = await pending_write(settings)
    clock = Ticking(request.expires_at - 90)
    app = create_app(settings, probe_nodes=False, clock=Clock(clock))
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await inbox(pilot, app)
        await pilot.press("alt+1")
        await wait_for(pilot, lambda: app.current_mode != "approvals", "left the inbox")
        clock.now += 40
        await wait_for(pilot, lambda: told.titled("Expiring soon"), "the warning", timeout=10)


async def test_the_warning_runs_from_start_on_tools_the_inbox_never_opened(
    settings: engine.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = await pending_write(settings)
    clock = Ticking(request.expires_at - 90)
    app = create_app(settings, probe_nodes=False, clock=Clock(clock))  # starts on Tools
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.current_mode == "tools"
        watch = app.expiry
        assert watch is not None
        await wait_for(pilot, lambda: watch.pending and watch.ticks >= 1, "the watch loaded")
        assert not told.titled("Expiring soon")
        bells = told.bells
        clock.now += 40  # 50 s left: inside the window
        await wait_for(pilot, lambda: told.titled("Expiring soon"), "the warning", timeout=10)
        [message] = told.titled("Expiring soon")
        assert message.startswith("Approval for filesystem_write expires in 0:")
        assert told.bells == bells + 1
        ticks = watch.ticks
        await wait_for(pilot, lambda: watch.ticks >= ticks + 2, "two more seconds")
        assert len(told.titled("Expiring soon")) == 1, "once per request"
        assert app.current_mode == "tools"  # the inbox was never opened


async def test_a_running_task_near_its_deadline_is_notified_once(
    settings: engine.Settings, eng: engine.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.tasks.playbooks import PlaybookStep

    task = await eng.tasks.create(
        "check the repo", [PlaybookStep(tool="git_status", args={})], max_seconds=600
    )
    clock = Ticking(1_000_000.0)
    # The runner's own state, as a task 500 s into its 600 s budget leaves it (another
    # process runs it; the console only reads).
    await eng.db.write(
        lambda tx: tx.execute(
            "UPDATE tasks SET status = 'running', elapsed_sec = 500, run_started_at = ?"
            " WHERE id = ?",
            (clock.now, task.id),
        )
    )
    app = create_app(settings, probe_nodes=False, clock=Clock(clock))
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("alt+4")
        screen = app.screen
        await wait_for(pilot, lambda: task.id in getattr(screen, "tasks", {}), "the task listed")
        assert not told.titled("Expiring soon")  # 100 s left: not yet
        clock.now += 50  # 50 s left
        await wait_for(pilot, lambda: told.titled("Expiring soon"), "the deadline warning")
        clock.now += 5
        [message] = told.titled("Expiring soon")
        assert message.startswith(f"Task {task.id} deadline expires in 0:")
