"""The planner doing real repository work with the stand-in Ollama server: list → search →
preview the edit → edit (through the inbox) → run_tests (through the inbox) → done. The
model reads each result as the planner shows it; the approved diff is exactly what lands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tasks_fake_ollama import FakeOllama, call, final
from tasks_helpers import OPERATOR

from engine import Engine
from engine.tasks import TaskService, TaskStatus

TEST_APP = "from app import answer\n\n\ndef test_answer():\n    assert answer() == 42\n"


def last_result(body: dict[str, Any]) -> dict[str, Any]:
    """What the planner told the model about the previous step: `status: ok` + JSON."""
    message = body["messages"][-1]
    assert message["role"] == "tool", message
    status, _, summary = message["content"].partition("\n")
    assert status == "status: ok", message["content"]
    result: dict[str, Any] = json.loads(summary)
    return result


async def test_list_search_edit_test_reaches_the_goal(
    eng: Engine, tasks: TaskService, fake_ollama: FakeOllama, workspace: Path
) -> None:
    (workspace / "test_app.py").write_text(TEST_APP)
    await eng.update_config({"tool_enabled": {"filesystem_edit": True, "run_tests": True}})
    seen: dict[str, Any] = {}

    def search_after_listing(body: dict[str, Any]) -> dict[str, Any]:
        listed = {e["path"] for e in last_result(body)["entries"]}
        assert {"app.py", "test_app.py"} <= listed
        return call("workspace_search", {"pattern": "return 41"})

    def preview_the_hit(body: dict[str, Any]) -> dict[str, Any]:
        [hit] = last_result(body)["matches"]
        return call(
            "filesystem_edit_preview", {"path": hit["path"], "old": "return 41", "new": "return 42"}
        )

    def edit_as_previewed(body: dict[str, Any]) -> dict[str, Any]:
        seen["edit_args"] = last_result(body)["edit_args"]
        return call("filesystem_edit", seen["edit_args"])

    def test_after_edit(body: dict[str, Any]) -> dict[str, Any]:
        seen["edited"] = last_result(body)
        return call("run_tests", {"targets": ["test_app.py"]})

    def finish(body: dict[str, Any]) -> dict[str, Any]:
        seen["tests"] = last_result(body)
        return final("Fixed answer() to return 42; test_app.py passes.")

    fake_ollama.script = [
        call("filesystem_list", {}),
        search_after_listing,
        preview_the_hit,
        edit_as_previewed,
        test_after_edit,
        finish,
    ]
    task = await tasks.run((await tasks.create_from_goal("make test_app.py pass")).id)
    assert task.status == TaskStatus.WAITING_APPROVAL, task.reason
    assert (workspace / "app.py").read_text() == "def answer():\n    return 41\n"  # not yet
    edit_request = await eng.approvals.get(str(task.steps[-1].approval_request_id))
    assert edit_request.tool == "filesystem_edit"
    assert edit_request.args["diff"] == seen["edit_args"]["diff"]  # the inbox shows the diff
    assert "-    return 41\n+    return 42\n" in edit_request.args["diff"]
    await eng.approve(edit_request.id, operator=OPERATOR)

    task = await tasks.resume(task.id)
    assert task.status == TaskStatus.WAITING_APPROVAL, task.reason
    assert seen["edited"]["diff"] == edit_request.args["diff"]  # what was applied
    assert (workspace / "app.py").read_text() == "def answer():\n    return 42\n"
    tests_request = await eng.approvals.get(str(task.steps[-1].approval_request_id))
    assert tests_request.tool == "run_tests"
    await eng.approve(tests_request.id, operator=OPERATOR)

    task = await tasks.resume(task.id)
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert seen["tests"]["outcome"] == "passed" and seen["tests"]["passed"] == 1
    assert [s.tool for s in task.steps] == [
        "filesystem_list",
        "workspace_search",
        "filesystem_edit_preview",
        "filesystem_edit",
        "run_tests",
    ]
