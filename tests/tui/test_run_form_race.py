"""The Run form's tool selector and its catalogue change together: choosing a tool while
the catalogue is being reloaded never raises (it once raised InvalidSelectValueError)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual.widgets import Select

from daena_tui.console.app import DaenaApp
from tests.tui.conftest import started, wait_for


async def test_a_tool_chosen_during_a_reload_is_shown(
    app: DaenaApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        eng = app.eng
        gate = asyncio.Event()
        config = eng.config
        held: list[bool] = []

        async def config_after_the_gate(*args: Any, **kw: Any) -> Any:
            held.append(True)
            await gate.wait()  # the reload sits between reading the catalogue and showing it
            return await config(*args, **kw)

        monkeypatch.setattr(eng, "config", config_after_the_gate)
        await app.switch_mode("run")
        await wait_for(pilot, lambda: bool(held), "the reload reached its second read")
        await app.screen.run_action("select_tool('apply_patch')")  # from Tools or the palette
        gate.set()
        select = app.screen.query_one("#run-tool", Select)
        await wait_for(pilot, lambda: select.value == "apply_patch", "the tool selected")
        await wait_for(pilot, lambda: app.screen.query("#field-patch"), "its form built")
        assert app.return_code is None  # nothing crashed the console
