"""A real console in a real terminal (tmux) for the console benchmarks, and what it costs.

The console runs as its own process in a detached tmux pane (Textual's real Linux driver,
its input thread and all), so its CPU time, RSS and context switches are its own: the
benchmark process that drives it and the agent that writes are other processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from engine import Settings

CHECKOUT = Path(__file__).resolve().parent.parent

LAUNCH = """
import os, sys
from pathlib import Path
from engine import load_settings
try:  # the code before the layout commit (a benchmark's "before" variant)
    from daena_tui.app import create_app
except ImportError:
    from daena_tui.console.app import create_app
Path(sys.argv[1]).write_text(str(os.getpid()))
exec(sys.argv[3])  # the benchmark's variant, e.g. the old code path for a before/after
settings = load_settings(env_file=None)
sys.exit(create_app(settings, initial_section=sys.argv[2]).run() or 0)
"""


@dataclass(frozen=True)
class Usage:
    """A process's totals at one moment: CPU seconds, context switches (all threads)."""

    at: float
    cpu: float
    voluntary: int
    involuntary: int
    rss: int

    def rate(self, later: Usage) -> tuple[float, float, float]:
        """(CPU % of one core, voluntary switches/s, involuntary switches/s) between two."""
        span = later.at - self.at
        return (
            100 * (later.cpu - self.cpu) / span,
            (later.voluntary - self.voluntary) / span,
            (later.involuntary - self.involuntary) / span,
        )


def thread_wakeups(pid: int) -> dict[int, int]:
    """Voluntary context switches of each of the process's threads, by thread id."""
    counts = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:
            continue  # a thread that just ended
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                counts[int(task.name)] = int(line.split()[1])
    return counts


def usage(pid: int) -> Usage:
    """Read /proc: each thread's context switches summed (a wakeup of any thread counts)."""
    voluntary = involuntary = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:
            continue  # a thread that just ended
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                voluntary += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                involuntary += int(line.split()[1])
    proc = psutil.Process(pid)
    times = proc.cpu_times()
    return Usage(
        time.monotonic(),
        times.user + times.system,
        voluntary,
        involuntary,
        proc.memory_info().rss,
    )


class TmuxConsole:
    """`with TmuxConsole(settings, "logs") as console:` a console in a 120x40 tmux pane."""

    def __init__(
        self,
        settings: Settings,
        section: str,
        *,
        width: int = 120,
        patch: str = "",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        if shutil.which("tmux") is None:
            raise SystemExit("tmux is needed to run the console in a real terminal")
        self.settings = settings
        self.section = section
        self.width = width
        self.name = f"daena-bench-{os.getpid()}-{section}"
        self.pid = 0
        self.patch = patch
        self.extra_env = extra_env
        self.env = {  # the console's settings; an agent process gets the same
            # This checkout's code, whatever the tmux server (maybe another session's,
            # started with another PYTHONPATH) would hand its panes; a variant overrides it.
            "PYTHONPATH": str(CHECKOUT),
            "DAENA_DB_PATH": str(settings.daena_db_path),
            "EXECUTION_WORKSPACE_ROOT": str(settings.execution_workspace_root),
            "DAENA_OPERATOR": "bench",
            "DAENA_VOICE_MUTED": "true",
        }

    def __enter__(self) -> TmuxConsole:
        root = self.settings.daena_db_path.parent
        pid_file = root / f"console-{self.section}.pid"
        pid_file.unlink(missing_ok=True)
        env = {**self.env, **(self.extra_env or {}), "TERM": "xterm-256color"}
        command = [sys.executable, "-c", LAUNCH, str(pid_file), self.section, self.patch]
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(self.width),
                "-y",
                "40",
                *[f"-e{k}={v}" for k, v in env.items()],
                *command,
            ],
            check=True,
        )
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            if time.monotonic() > deadline:
                raise SystemExit("the console did not start within 60 s")
            time.sleep(0.05)
        self.pid = int(pid_file.read_text())
        self.wait_for("pending", 60)  # the header is up: the engine is open
        return self

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    def wait_for(self, text: str, timeout: float, poll: float = 0.005) -> float:
        """Seconds until `text` is on the pane (polled every `poll` s)."""
        started = time.monotonic()
        while text not in self.screen():
            if time.monotonic() - started > timeout:
                raise SystemExit(f"{text!r} did not appear on the console within {timeout} s")
            time.sleep(poll)
        return time.monotonic() - started

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False)


def code_at(commit: str) -> str:
    """The project's code as of `commit`, unpacked in a temp dir (for PYTHONPATH)."""
    where = Path(tempfile.mkdtemp(prefix=f"daena-bench-code-{commit[:8]}-"))
    archive = subprocess.run(
        ["git", "archive", commit],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    return str(where)
