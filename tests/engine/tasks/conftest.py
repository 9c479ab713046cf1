"""Fixtures for the task tests: a real git workspace, an engine with the test tools, a
playbook directory, a scripted Ollama server on loopback and a TaskService bound to them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CRASH_SCRIPT = HERE / "tasks_crash_script.py"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from tasks_fake_ollama import FakeOllama  # noqa: E402
from tasks_helpers import Start, make_git_workspace, task_settings  # noqa: E402
from tasks_toolkit import make_registry  # noqa: E402

from engine import Engine, Settings  # noqa: E402
from engine.brain import Brain  # noqa: E402
from engine.tasks import TaskService  # noqa: E402


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_git_workspace(tmp_path)


@pytest.fixture
def playbook_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    return directory


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    server = FakeOllama().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(tmp_path: Path, workspace: Path, fake_ollama: FakeOllama) -> Settings:
    return task_settings(tmp_path, workspace, OLLAMA_BASE_URL=fake_ollama.url)


@pytest.fixture
async def eng(settings: Settings) -> AsyncIterator[Engine]:
    async with Engine.open(settings, registry=make_registry()) as engine:
        yield engine


@pytest.fixture
def make_service(playbook_dir: Path) -> Callable[[Engine], TaskService]:
    def build(engine: Engine) -> TaskService:
        return TaskService(
            engine,
            brain=Brain(engine.settings, timeout_sec=10, status_timeout_sec=5),
            playbook_dir=playbook_dir,
        )

    return build


@pytest.fixture
def tasks(eng: Engine, make_service: Callable[[Engine], TaskService]) -> TaskService:
    return make_service(eng)


@pytest.fixture
def crashing(eng: Engine, playbook_dir: Path, workspace: Path) -> Iterator[Start]:
    """Starts the crash script on the playbook named by the test (see `start`)."""
    procs: list[subprocess.Popen[str]] = []

    def start(name: str) -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(CRASH_SCRIPT),
                str(eng.settings.daena_db_path),
                str(workspace),
                str(playbook_dir),
                name,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        task_id = proc.stdout.readline().strip()
        assert task_id.startswith("task_"), proc.stderr.read() if proc.stderr else ""
        return proc, task_id

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
