"""Playbooks (engine/tasks/playbooks.py) and bad input: files validated on load, templates, a real
run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tasks_helpers import audit_rows, git, write_playbook

from engine import ConfigError, Engine, InputError, NotFoundError, TaskChanged
from engine.tasks import StepStatus, TaskService, TaskStatus
from engine.tasks.playbooks import PLAYBOOK_DIR, PlaybookLibrary, load_playbook_file


def test_shipped_playbooks_are_valid() -> None:
    playbooks, errors = PlaybookLibrary(PLAYBOOK_DIR).load_all()
    assert errors == []
    names = {p.name for p in playbooks}
    assert {"inspect_repo", "run_tests", "apply_reviewed_patch"} <= names
    inspect = PlaybookLibrary(PLAYBOOK_DIR).load("inspect_repo")
    assert [s.tool for s in inspect.steps][:2] == ["git_status", "git_diff"]
    patch = PlaybookLibrary(PLAYBOOK_DIR).load("apply_reviewed_patch")
    assert [(s.tool, s.dry_run) for s in patch.steps][:2] == [
        ("apply_patch", True),
        ("apply_patch", False),
    ]


def test_run_tests_variable_stays_one_argv_element() -> None:
    run_tests = PlaybookLibrary(PLAYBOOK_DIR).load("run_tests")
    steps = run_tests.render({"path": "tests/unit"})
    assert steps[0].args["command"] == ["python", "-m", "pytest", "-q", "tests/unit"]
    assert run_tests.render({})[0].args["command"][-1] == "tests"  # the default
    for bad in ("-p evil_plugin", "tests; rm -rf /", "a b"):
        with pytest.raises(InputError, match=r"variables\.path"):
            run_tests.render({"path": bad})


def test_a_variable_rule_holds_for_the_whole_value() -> None:
    """`$` matches before a final newline: a rule is matched against the whole value."""
    run_tests = PlaybookLibrary(PLAYBOOK_DIR).load("run_tests")
    with pytest.raises(InputError, match=r"variables\.path: .* does not match the rule"):
        run_tests.render({"path": "tests\n"})


def test_a_playbook_name_with_a_trailing_newline_is_not_a_name() -> None:
    with pytest.raises(InputError, match="is not a playbook name"):
        PlaybookLibrary(PLAYBOOK_DIR).load("run_tests\n")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", r"broken\.json: not valid JSON .*line 1"),
        ("[1, 2]", r"broken\.json: a playbook must be a JSON object"),
        (json.dumps({"description": "no steps"}), r"broken\.json: steps: Field required"),
        (json.dumps({"steps": []}), r"broken\.json: steps: List should have at least 1 item"),
        (
            json.dumps({"steps": [{"tool": "git_status", "max_retries": -1}]}),
            r"broken\.json: steps\.0\.max_retries: Input should be greater than or equal to 0",
        ),
        (
            json.dumps({"steps": [{"tool": "git_status", "retry": True}]}),
            r"broken\.json: steps\.0\.retry: Extra inputs are not permitted",
        ),
        (
            json.dumps({"steps": [{"tool": "shell_exec", "args": {"command": "ls {dir}"}}]}),
            r"broken\.json: steps\.0\.args: uses \{dir\} but 'variables' does not declare it",
        ),
        (
            json.dumps({"name": "other", "steps": [{"tool": "git_status"}]}),
            r"broken\.json: name: 'other' must match the file name",
        ),
        (
            json.dumps({"variables": [{"name": "x", "pattern": "("}], "steps": [{"tool": "a"}]}),
            r"broken\.json: variables\.0\.pattern: is not a valid regular expression",
        ),
    ],
)
def test_invalid_playbook_names_file_and_field(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_playbook_file(path)


def test_one_broken_file_does_not_hide_the_others(playbook_dir: Path) -> None:
    write_playbook(playbook_dir, "good", [{"tool": "git_status"}])
    (playbook_dir / "bad.json").write_text("{", encoding="utf-8")
    good, errors = PlaybookLibrary(playbook_dir).load_all()
    assert [p.name for p in good] == ["good"]
    assert len(errors) == 1 and errors[0].startswith("bad.json: not valid JSON")


async def test_variables_missing_unknown_and_escaped(
    tasks: TaskService, playbook_dir: Path, eng: Engine
) -> None:
    write_playbook(
        playbook_dir,
        "notes",
        [{"tool": "append_line", "args": {"line": "{{literal}} {who} says {what}"}}],
        variables=["who", {"name": "what", "default": "hi"}],
    )
    with pytest.raises(InputError, match=r"variables\.who: playbook notes needs a value for 'who'"):
        await tasks.create_from_playbook("notes", {})
    with pytest.raises(InputError, match=r"variables\.whom: playbook notes has no such variable"):
        await tasks.create_from_playbook("notes", {"who": "a", "whom": "b"})
    with pytest.raises(NotFoundError, match="no playbook 'nope'"):
        await tasks.create_from_playbook("nope")
    assert await tasks.list() == []  # nothing was stored by the refused attempts
    task = await tasks.create_from_playbook("notes", {"who": "ann"})
    assert task.steps[0].args["line"] == "{literal} ann says hi"
    assert task.source == "playbook:notes" and task.variables == {"who": "ann"}


async def test_unknown_tool_and_invalid_args_are_caught_at_creation(
    tasks: TaskService, playbook_dir: Path
) -> None:
    write_playbook(playbook_dir, "ghost", [{"tool": "git_status"}, {"tool": "teleport"}])
    with pytest.raises(ConfigError, match=r"ghost\.json: steps\.1\.tool: unknown tool 'teleport'"):
        await tasks.create_from_playbook("ghost")
    write_playbook(playbook_dir, "typo", [{"tool": "git_diff", "args": {"staged": "perhaps"}}])
    with pytest.raises(InputError, match=r"typo\.json: steps\.0\.args\.staged"):
        await tasks.create_from_playbook("typo")
    with pytest.raises(InputError, match="max_steps: Input should be greater than or equal to 1"):
        await tasks.create_from_goal("anything", max_steps=0)
    with pytest.raises(InputError, match="goal: must not be empty"):
        await tasks.create_from_goal("   ")
    assert await tasks.list() == []


async def test_inspect_repo_on_a_real_repository(eng: Engine, workspace: Path) -> None:
    (workspace / "app.py").write_text("def answer():\n    return 42\n", encoding="utf-8")
    (workspace / "new.txt").write_text("new\n", encoding="utf-8")
    git(workspace, "add", "new.txt")
    tasks = TaskService(eng)  # the shipped playbook directory
    seen: list[str] = []
    with eng.bus.subscription() as queue:
        task = await tasks.create_from_playbook("inspect_repo")
        assert task.status == TaskStatus.PENDING
        task = await tasks.run(task.id)
        while not queue.empty():
            event = queue.get_nowait()
            if isinstance(event, TaskChanged):
                seen.append(event.status)
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert seen == ["pending", "running", "completed"]
    assert [s.status for s in task.steps] == [StepStatus.SUCCEEDED] * 3
    status, unstaged, staged = task.steps
    assert "app.py" in (status.result_summary or "") and "new.txt" in (status.result_summary or "")
    assert "return 42" in (unstaged.result_summary or "")
    assert "new.txt" in (staged.result_summary or "")
    assert all(s.attempts == 1 and s.audit_id for s in task.steps)
    runs = await audit_rows(eng, task.id)
    assert [(r["tool"], r["status"]) for r in runs] == [
        ("git_status", "ok"),
        ("git_diff", "ok"),
        ("git_diff", "ok"),
    ]
    actions = [
        r["action"]
        for r in await eng.db.fetchall(
            "SELECT action FROM audit WHERE task_id = ? AND action LIKE 'task_%' ORDER BY id",
            (task.id,),
        )
    ]
    assert actions == ["task_created", "task_running", "task_completed"]
    assert (await eng.audit.verify()).ok
    listed = await tasks.list("completed")
    assert [t.id for t in listed] == [task.id]
