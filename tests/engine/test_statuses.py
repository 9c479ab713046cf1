"""Status enums match what the database accepts, stay plain strings in JSON, and every
status the engine writes has its tone in the one map the console colours with."""

from __future__ import annotations

import json
import re
import typing
from enum import StrEnum
from pathlib import Path

import pytest

from engine.nodes.client import NodeStatus
from engine.statuses import ApprovalStatus, RunStatus, Tone, WaitState, tone_for
from engine.storage.migrations import MIGRATIONS
from engine.tasks.models import StepStatus, TaskStatus

SCHEMA = "\n".join(MIGRATIONS)


def _check_values(table: str, column: str) -> set[str]:
    """The words the CHECK constraint of `table.column` allows, from the migrations."""
    body = SCHEMA[SCHEMA.index(f"CREATE TABLE {table} (") :]
    body = body[: body.index(");")]
    match = re.search(rf"\b{column} TEXT NOT NULL\s+CHECK \({column} IN \(([^)]*)\)\)", body)
    assert match is not None, f"no CHECK on {table}.{column}"
    return set(re.findall(r"'(\w+)'", match.group(1)))


@pytest.mark.parametrize(
    ("enum", "table", "column"),
    [
        (ApprovalStatus, "approval_requests", "status"),
        (TaskStatus, "tasks", "status"),
        (StepStatus, "task_steps", "status"),
        (WaitState, "mcp_waits", "state"),
    ],
)
def test_each_enum_is_what_its_column_accepts(enum: type[StrEnum], table: str, column: str) -> None:
    assert {member.value for member in enum} == _check_values(table, column)


def test_statuses_are_their_strings_in_json_and_comparisons() -> None:
    assert json.dumps({"status": ApprovalStatus.PENDING}) == '{"status": "pending"}'
    assert RunStatus("interrupted") is RunStatus.INTERRUPTED and str(RunStatus.DRY_RUN) == "dry_run"
    assert ApprovalStatus("expired") is ApprovalStatus.EXPIRED


ALL_STATUSES = sorted(
    {
        *ApprovalStatus,
        *RunStatus,
        *TaskStatus,
        *StepStatus,
        *typing.get_args(NodeStatus),
        "withdrawn",  # a withdrawn MCP wait's audit status
        "pinned",
        "changed",
        "unpinned",
        "running",
        "failed",
        "stopped",  # upstream servers
    }
)


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_every_status_the_engine_writes_has_a_tone(status: str) -> None:
    assert tone_for(status) is not Tone.NEUTRAL


def test_one_status_has_one_tone_whatever_it_describes() -> None:
    assert tone_for(TaskStatus.FAILED) is tone_for(StepStatus.FAILED) is Tone.ERROR
    assert tone_for("no such status") is Tone.NEUTRAL and tone_for(None) is Tone.NEUTRAL


def test_no_console_module_keeps_a_status_colour_map_of_its_own() -> None:
    """Colour dicts keyed by status words (the three that drifted apart) are gone: every
    view goes through `styles.status_text` / `status_color`, which read `tone_for`."""
    root = Path(__file__).resolve().parents[2] / "daena_tui" / "console"
    assert (root / "styles.py").is_file()
    own_maps = [
        f"{path.relative_to(root)}: {line.strip()}"
        for path in root.rglob("*.py")
        for line in path.read_text("utf-8").splitlines()
        if re.search(
            r"\"(ok|pending|approved|failed|running|unreachable|pinned)\": \"\$?"
            r"(success|error|warning|accent|text-muted|information)\"",
            line,
        )
    ]
    assert own_maps == []
