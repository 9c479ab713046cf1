"""The console loads its settings after the first frame; a bad value must still end it
with one clear line and exit code 2 (in a real terminal, driven through tmux)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .tmux_console import console_exit_output

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def test_bad_setting_ends_the_console_with_one_line(tmp_path: Path, workspace: Path) -> None:
    text = console_exit_output(
        tmp_path, workspace, tmp_path / "d.db", "SECURITY_LOCKDOWN_MODE=sometimes"
    )
    assert "EXIT=2" in text
    assert "Configuration error: SECURITY_LOCKDOWN_MODE" in text
    assert "Traceback" not in text
