"""Play a WAV file with whatever player the platform has, never through a shell.

Linux: `paplay` (PulseAudio/PipeWire), `pw-play`, `aplay` (ALSA); macOS: `afplay`; Windows:
PowerShell's `Media.SoundPlayer`. The file path reaches PowerShell through an environment
variable, not through the command text, so no path can change the command. When no player
exists, when the console runs over SSH (the speakers are on the far machine), or when the
player fails (no sound device), the file is kept and the caller reports where it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

PLAY_TIMEOUT_SEC = 60.0
PATH_ENV = "DAENA_VOICE_FILE"
_POWERSHELL_PLAY = f"(New-Object Media.SoundPlayer $env:{PATH_ENV}).PlaySync()"
_UNIX_PLAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("paplay", ()),
    ("pw-play", ()),
    ("aplay", ("-q",)),
)

Which = Callable[[str], str | None]


@dataclass(frozen=True)
class PlayerCommand:
    """How to play one file: argv (the file is the last argument, or in `env`) and extra env."""

    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


def player_command(
    wav: Path, *, platform: str | None = None, which: Which = shutil.which
) -> PlayerCommand | None:
    """The command that plays `wav` here, or None when the platform has no player."""
    platform = platform or sys.platform
    if platform == "win32":
        exe = which("powershell") or which("pwsh")
        if exe is None:
            return None
        return PlayerCommand(
            "powershell",
            (exe, "-NoProfile", "-NonInteractive", "-Command", _POWERSHELL_PLAY),
            ((PATH_ENV, str(wav)),),
        )
    if platform == "darwin":
        exe = which("afplay")
        return PlayerCommand("afplay", (exe, str(wav))) if exe else None
    for name, flags in _UNIX_PLAYERS:
        exe = which(name)
        if exe is not None:
            return PlayerCommand(name, (exe, *flags, str(wav)))
    return None


def over_ssh(environ: Mapping[str, str] | None = None) -> bool:
    """True in an SSH session: the speakers are on the far machine, so keep the file."""
    env = os.environ if environ is None else environ
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY"))


@dataclass(frozen=True)
class PlayResult:
    played: bool
    message: str


async def play(wav: Path) -> PlayResult:
    """Play `wav` in a subprocess (the event loop never waits on audio)."""
    if over_ssh():
        return PlayResult(False, f"SSH session: audio kept at {wav}")
    command = player_command(wav)
    if command is None:
        return PlayResult(False, f"no audio player found: audio kept at {wav}")
    env = {**os.environ, **dict(command.env)} if command.env else None
    try:
        proc = await asyncio.create_subprocess_exec(
            *command.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except OSError as err:
        return PlayResult(False, f"{command.name} could not start ({err}): audio kept at {wav}")
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), PLAY_TIMEOUT_SEC)
    except BaseException as err:  # a timeout or a cancelled worker: never leave it playing
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        if isinstance(err, TimeoutError):
            return PlayResult(False, f"{command.name} timed out: audio kept at {wav}")
        raise
    if proc.returncode != 0:
        detail = stderr.decode(errors="replace").strip().splitlines()
        why = detail[-1] if detail else f"exit code {proc.returncode}"
        return PlayResult(False, f"{command.name} failed ({why}): audio kept at {wav}")
    return PlayResult(True, f"played with {command.name}")
