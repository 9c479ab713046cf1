"""Upstream tool descriptions in the console are untrusted text: shown, never as markup."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import engine
from daena_tui.app import create_app
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
