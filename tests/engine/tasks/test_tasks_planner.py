"""The planner (engine/tasks/planner.py) and brain status, against a real HTTP server speaking
Ollama's API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tasks_fake_ollama import FakeOllama, Raw, call, closed_port_url, final
from tasks_helpers import OPERATOR, audit_rows, task_settings

from engine import Engine
from engine.brain import Brain, ollama_tool
from engine.tasks import StepStatus, TaskService, TaskStatus
from engine.tools.builtin.shell import ShellArgs


async def test_brain_status_lists_models_and_picks_the_fallback(
    settings: Any, fake_ollama: FakeOllama
) -> None:
    status = await Brain(settings).status()
    assert status.reachable and status.error is None
    assert status.models == ("qwen2.5:14b-instruct",)
    assert not status.reasoning_installed and status.fallback_installed
    assert status.selected_model == "qwen2.5:14b-instruct" and status.problem is None
    fake_ollama.models = ["deepseek-r1:7b", "qwen2.5:14b-instruct"]
    assert (await Brain(settings).status()).selected_model == "deepseek-r1:7b"
    fake_ollama.models = ["llama3:latest"]
    none = await Brain(settings).status()
    assert none.selected_model is None
    assert "ollama pull qwen2.5:14b-instruct" in str(none.problem)


async def test_brain_status_unreachable(tmp_path: Path, workspace: Path) -> None:
    settings = task_settings(tmp_path, workspace, OLLAMA_BASE_URL=closed_port_url())
    status = await Brain(settings).status()
    assert not status.reachable and status.error
    assert status.selected_model is None
    assert f"Ollama at {settings.ollama_base_url} is not reachable" in str(status.problem)
    assert status.to_dict()["reachable"] is False


def test_tool_schema_becomes_an_ollama_tool() -> None:
    tool = ollama_tool("shell_exec", "run things", ShellArgs.model_json_schema())
    params = tool["function"]["parameters"]
    assert params["required"] == ["command"]
    assert params["properties"]["command"]["type"] == ["string", "array"]
    assert params["properties"]["command"]["items"] == {"type": "string"}
    assert "default: 30.0" in params["properties"]["timeout_sec"]["description"]


async def test_planner_runs_git_status_then_finishes(
    eng: Engine, tasks: TaskService, fake_ollama: FakeOllama, workspace: Path
) -> None:
    (workspace / "app.py").write_text("changed\n", encoding="utf-8")
    fake_ollama.script = [
        call("git_status"),
        final("<think>the repo has one change</think>The workspace has one modified file: app.py."),
    ]
    task = await tasks.create_from_goal("Tell me what changed in the repository")
    assert task.source == "planner" and task.steps == []
    task = await tasks.run(task.id)
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert [(s.tool, s.status) for s in task.steps] == [("git_status", StepStatus.SUCCEEDED)]
    assert [(a.kind, a.content) for a in task.artifacts] == [
        ("final_message", "The workspace has one modified file: app.py.")
    ]
    assert task.reason == "planner finished: The workspace has one modified file: app.py."
    assert fake_ollama.tags_calls == 1
    assert fake_ollama.models_asked() == ["qwen2.5:14b-instruct"] * 2  # the fallback
    first, second = fake_ollama.requests
    offered = {t["function"]["name"] for t in first["tools"]}
    assert {"git_status", "git_diff", "append_line"} <= offered
    assert "filesystem_write" not in offered  # disabled tools are not offered
    assert "Tell me what changed" in first["messages"][1]["content"]
    tool_reply = second["messages"][-1]
    assert tool_reply["role"] == "tool" and tool_reply["tool_name"] == "git_status"
    assert "app.py" in tool_reply["content"] and "status: ok" in tool_reply["content"]
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "git_status"
    assert [(r["tool"], r["status"]) for r in await audit_rows(eng, task.id)] == [
        ("git_status", "ok")
    ]


async def test_malformed_replies_are_rejected_then_the_task_fails(
    eng: Engine, tasks: TaskService, fake_ollama: FakeOllama
) -> None:
    fake_ollama.script = [
        Raw(200, b"this is not json {"),
        call("teleport", {"to": "mars"}),
        call("git_diff", {"paths": 5}),
    ]
    task = await tasks.run((await tasks.create_from_goal("inspect")).id)
    assert task.status == TaskStatus.FAILED
    assert task.reason is not None
    assert task.reason.startswith("planner: 3 unusable replies in a row from qwen2.5:14b-instruct")
    assert "invalid arguments for git_diff: args.paths" in task.reason
    assert task.steps == []  # nothing malformed was ever run
    rejected = [a.content for a in task.artifacts if a.kind == "planner_rejected"]
    assert "not valid JSON" in rejected[0]
    assert rejected[1].startswith("unknown tool 'teleport'; the enabled tools are:")
    proposals = await audit_rows(eng, task.id, action="planner_proposal")
    assert [(r["tool"], r["status"]) for r in proposals] == [
        (None, "rejected"),
        ("teleport", "rejected"),
        ("git_diff", "rejected"),
    ]
    # The model was told why its reply was rejected.
    last_request = fake_ollama.requests[-1]["messages"]
    assert "rejected: unknown tool 'teleport'" in last_request[-1]["content"]
    assert await audit_rows(eng, task.id) == []  # no tool ran


async def test_a_rejected_reply_can_be_followed_by_a_good_one(
    tasks: TaskService, fake_ollama: FakeOllama
) -> None:
    fake_ollama.script = [
        final('```json\n{"name": "git_status", "arguments": {\n```'),  # broken JSON in text
        final('{"name": "git_diff", "arguments": {"staged": true}}'),  # JSON call in text
        final("Nothing is staged."),
    ]
    task = await tasks.run((await tasks.create_from_goal("what is staged?")).id)
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert [(s.tool, s.args) for s in task.steps] == [("git_diff", {"staged": True, "paths": []})]
    rejected = [a.content for a in task.artifacts if a.kind == "planner_rejected"]
    assert rejected == [
        "the reply looks like a JSON tool call but is not valid JSON (Expecting "
        "property name enclosed in double quotes)"
    ]


async def test_a_model_that_repeats_itself_is_stopped(
    eng: Engine, tasks: TaskService, fake_ollama: FakeOllama
) -> None:
    fake_ollama.default = call("git_status")  # forever
    task = await tasks.run((await tasks.create_from_goal("loop please")).id)
    assert task.status == TaskStatus.FAILED
    assert task.reason == (
        "planner: the model repeated its previous call (git_status {}) instead of moving on"
    )
    assert len(task.steps) == 1
    assert [r["tool"] for r in await audit_rows(eng, task.id)] == ["git_status"]
    assert [a.kind for a in task.artifacts] == ["planner_loop"]


async def test_alternating_calls_are_stopped_the_third_time(
    tasks: TaskService, fake_ollama: FakeOllama
) -> None:
    fake_ollama.script = [call("git_status"), call("git_diff")] * 3
    task = await tasks.run((await tasks.create_from_goal("flip flop")).id)
    assert task.status == TaskStatus.FAILED
    assert "asked for git_status {} a third time" in (task.reason or "")
    assert [s.tool for s in task.steps] == ["git_status", "git_diff"] * 2


async def test_unreachable_ollama_fails_the_task_and_the_engine_carries_on(
    tmp_path: Path,
    workspace: Path,
    make_service: Callable[[Engine], TaskService],
) -> None:
    from tasks_toolkit import make_registry

    settings = task_settings(tmp_path, workspace, OLLAMA_BASE_URL=closed_port_url())
    async with Engine.open(settings, registry=make_registry()) as eng:
        tasks = make_service(eng)
        task = await tasks.run((await tasks.create_from_goal("anything")).id)
        assert task.status == TaskStatus.FAILED
        assert task.reason is not None
        assert task.reason.startswith(f"planner: Ollama at {settings.ollama_base_url} is not")
        assert (await eng.run("git_status")).status == "ok"
        assert (await tasks.get(task.id)).status == TaskStatus.FAILED


async def test_ollama_going_away_mid_task(
    tasks: TaskService, fake_ollama: FakeOllama, settings: Any
) -> None:
    def vanish(body: dict[str, Any]) -> Any:
        fake_ollama.stop()
        return Raw(500, b'{"error": "shutting down"}')

    fake_ollama.script = [call("git_status"), vanish]
    task = await tasks.run((await tasks.create_from_goal("status")).id)
    assert task.status == TaskStatus.FAILED
    assert "HTTP 500: shutting down" in (task.reason or "")
    assert task.steps[0].status == StepStatus.SUCCEEDED


async def test_model_without_tool_support_falls_back(
    tasks: TaskService, fake_ollama: FakeOllama
) -> None:
    fake_ollama.models = ["deepseek-r1:7b", "qwen2.5:14b-instruct"]

    def no_tools(body: dict[str, Any]) -> Any:
        if body["model"] == "deepseek-r1:7b":
            error = {"error": "registry.ollama.ai/library/deepseek-r1:7b does not support tools"}
            return Raw(400, json.dumps(error).encode())
        return call("git_status")

    fake_ollama.script = [no_tools, no_tools, final("done")]
    task = await tasks.run((await tasks.create_from_goal("status")).id)
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert fake_ollama.models_asked() == [
        "deepseek-r1:7b",
        "qwen2.5:14b-instruct",
        "qwen2.5:14b-instruct",
    ]


async def test_planner_respects_the_step_budget(
    tasks: TaskService, fake_ollama: FakeOllama
) -> None:
    fake_ollama.script = [call("git_status"), call("git_diff")]
    task = await tasks.run((await tasks.create_from_goal("look", max_steps=1)).id)
    assert task.status == TaskStatus.BUDGET_EXHAUSTED
    assert "the planner wanted to run git_diff next" in (task.reason or "")
    assert [s.tool for s in task.steps] == ["git_status"]
    assert "at most 1 more tool call" in fake_ollama.requests[0]["messages"][1]["content"]


async def test_planner_steps_go_through_approvals(
    eng: Engine, tasks: TaskService, fake_ollama: FakeOllama, workspace: Path
) -> None:
    fake_ollama.script = [call("risky_append", {"line": "from the model"}), final("written")]
    task = await tasks.run((await tasks.create_from_goal("write a line")).id)
    assert task.status == TaskStatus.WAITING_APPROVAL
    assert not (workspace / "trace.txt").exists()
    request_id = str(task.steps[0].approval_request_id)
    assert (await eng.approvals.get(request_id)).requester == f"task:{task.id}"
    await eng.approve(request_id, operator=OPERATOR)
    task = await tasks.resume(task.id)
    assert task.status == TaskStatus.COMPLETED
    assert (workspace / "trace.txt").read_text() == "from the model\n"
    assert "from the model" in fake_ollama.requests[-1]["messages"][-1]["content"]
