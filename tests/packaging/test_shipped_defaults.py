"""Issue 15: the policy seed and the example playbooks ship in the wheel (one copy: the
top-level `config/` is the package `daena_config`), and the operator's own playbooks
(`DAENA_PLAYBOOKS_DIR`) are listed beside the examples and kept away from tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from engine import Engine, RunRequest
from engine.defaults import CHECKOUT_CONFIG_DIR, config_dirs
from engine.policy import load_seed
from engine.safety.protected import protected_for_settings
from engine.tasks.playbooks import PLAYBOOK_DIR, PlaybookLibrary
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {"apply_reviewed_patch", "inspect_repo", "run_tests"}
PLAYBOOK = {
    "name": "mine",
    "description": "the operator's own",
    "steps": [{"tool": "git_status", "args": {}}],
}


def test_the_installed_package_is_the_checkout_config_dir() -> None:
    """Editable install: importlib.resources reads `config/` itself (no second copy)."""
    assert Path(str(resources.files("daena_config"))).resolve() == ROOT / "config"
    assert PLAYBOOK_DIR == ROOT / "config" / "playbooks"
    seed = json.loads((ROOT / "config" / "execution_layer_config.json").read_text("utf-8"))
    assert load_seed() == seed


def test_the_wheel_carries_config_byte_for_byte(tmp_path: Path) -> None:
    """The built wheel's `daena_config` is exactly `config/` (seed, playbooks), plus the
    py.typed markers and the one version."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        shipped = {
            n.removeprefix("daena_config/"): zf.read(n)
            for n in names
            if n.startswith("daena_config/") and n.endswith(".json")
        }
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    on_disk = {
        str(p.relative_to(ROOT / "config")): p.read_bytes()
        for p in (ROOT / "config").rglob("*.json")
    }
    assert shipped == on_disk
    assert {f"{p}/py.typed" for p in ("engine", "daena_tui", "node_server")} <= names
    from engine.version import __version__

    assert f"Version: {__version__}\n".encode() in metadata
    assert b"License-Expression: MIT\n" in metadata


def test_one_version_everywhere() -> None:
    import daena_tui
    import node_server
    from engine.version import __version__

    assert daena_tui.__version__ == node_server.__version__ == __version__
    out = subprocess.run(
        [sys.executable, "-m", "daena_tui", "--version"], capture_output=True, text=True
    )
    assert out.stdout.strip() == f"daena {__version__}"


def write_playbook(directory: Path, name: str, description: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    body = {**PLAYBOOK, "name": name, "description": description}
    (directory / f"{name}.json").write_text(json.dumps(body), "utf-8")


def test_own_playbooks_are_listed_before_the_examples_and_hide_a_same_name(tmp_path: Path) -> None:
    own = tmp_path / "mine"
    write_playbook(own, "mine", "the operator's own")
    write_playbook(own, "run_tests", "my run_tests")
    library = PlaybookLibrary(own, PLAYBOOK_DIR)
    found, errors = library.load_all()
    assert not errors
    assert {p.name for p in found} == EXAMPLES | {"mine"}
    assert library.load("run_tests").description == "my run_tests"
    assert library.directory_of("run_tests") == own
    assert library.directory_of("inspect_repo") == PLAYBOOK_DIR


def test_cli_lists_both_locations(tmp_path: Path, workspace: Path, db_path: Path) -> None:
    own = tmp_path / "mine"
    write_playbook(own, "mine", "the operator's own")
    env = {"DAENA_PLAYBOOKS_DIR": str(own), "DAENA_DB_PATH": str(db_path)}
    cmd = [sys.executable, "-m", "daena_tui", "--workspace", str(workspace), "--env-file", ""]
    proc = subprocess.run(
        [*cmd, "--json", "tasks", "playbooks"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=workspace,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["directories"] == [str(own), str(PLAYBOOK_DIR)]
    where = {p["name"]: p["directory"] for p in data["playbooks"]}
    assert where == {"mine": str(own), **dict.fromkeys(EXAMPLES, str(PLAYBOOK_DIR))}
    text = subprocess.run(
        [*cmd, "tasks", "playbooks"], capture_output=True, text=True, env={**os.environ, **env}
    ).stdout
    assert f"playbooks in {own}, {PLAYBOOK_DIR}:" in text


async def test_no_tool_writes_the_operator_playbooks_or_the_config(
    tmp_path: Path, workspace: Path, db_path: Path
) -> None:
    """The agent must not plant a playbook the operator will later run, nor rewrite the
    seed: DAENA_PLAYBOOKS_DIR inside the workspace is refused for reads and writes."""
    own = workspace / "playbooks"
    write_playbook(own, "mine", "the operator's own")
    settings = make_settings(workspace, db_path, DAENA_PLAYBOOKS_DIR=str(own))
    protected = protected_for_settings(settings, workspace=workspace)
    assert protected.covers(own / "evil.json", writing=True)
    assert protected.covers(own / "mine.json")
    for directory in config_dirs():
        assert protected.covers(directory / "playbooks" / "x.json")
    assert CHECKOUT_CONFIG_DIR in config_dirs()
    async with Engine.open(settings) as eng:
        await eng.set_tool_enabled("filesystem_write", True)
        read = await eng.run(
            RunRequest(tool="filesystem_read", args={"path": "playbooks/mine.json"})
        )
        assert read.status == "refused" and "console's own files" in (read.error or "")
        write = await eng.run(
            RunRequest(
                tool="filesystem_write", args={"path": "playbooks/evil.json", "content": "{}"}
            )
        )
        assert write.status == "refused" and "console's own files" in (write.error or "")
    assert sorted(p.name for p in own.iterdir()) == ["mine.json"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_is_valid(name: str) -> None:
    assert PlaybookLibrary().load(name).name == name
