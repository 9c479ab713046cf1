"""Quitting while a section's load is still waiting on the engine: the load resumes after
the section's widgets are gone, and that is no failure of the console (it once ended a
clean quit with NoMatches '#tools-table' and exit code 1)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from daena_tui.console.app import DaenaApp
from tests.tui.conftest import started, wait_for


async def test_a_load_resuming_after_quit_began_is_not_an_error(
    app: DaenaApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: app.screen.query("#tools-table"), "the Tools table")
        table = app.screen.query_one("#tools-table")
        store = app.eng.upstream.store
        answers = (await app.eng.list_tools(), await store.servers(), await store.tools())
        waiting: list[bool] = []

        async def answer_at_the_worst_moment(*args: Any, **kw: Any) -> Any:
            waiting.append(True)
            # once shutdown has closed the table but not yet its screen (Textual closes a
            # screen's widgets first; the screen's own close cancels its workers)
            while app.is_running or not table._closed:
                await asyncio.sleep(0)
            return answers[0]

        async def servers() -> Any:
            return answers[1]

        async def tools() -> Any:
            return answers[2]

        monkeypatch.setattr(app.eng, "list_tools", answer_at_the_worst_moment)
        monkeypatch.setattr(store, "servers", servers)
        monkeypatch.setattr(store, "tools", tools)
        app.screen.reload()
        await wait_for(pilot, lambda: bool(waiting), "the load waiting on the engine")
    assert app.return_code in (None, 0)  # run_test would also have raised the failure
