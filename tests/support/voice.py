"""Voice test fixtures shared by the engine's and the console's voice tests: a PATH with no
speech program or player on it, Coqui TTS made unimportable, and the real espeak-ng."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed")


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH is this empty dir: no espeak-ng, no audio player (tests add what they need)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    return directory


@pytest.fixture
def no_coqui(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import TTS` fails, as where the voice extra is not installed."""
    monkeypatch.setitem(sys.modules, "TTS", None)


def link_espeak(bin_dir: Path) -> None:
    """The real espeak-ng, and nothing else, on PATH."""
    assert ESPEAK is not None
    os.symlink(ESPEAK, bin_dir / "espeak-ng")
