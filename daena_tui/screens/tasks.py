"""Tasks: list, detail with steps and budget burn-down, create from a goal or playbook, run /
resume / cancel. Works against the engine's task service (`eng.tasks`) when this build has
one; otherwise it says so plainly (no invented tasks)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

import engine
from daena_tui import services
from daena_tui.screens.base import SectionScreen
from daena_tui.screens.modals.confirm import ConfirmModal
from daena_tui.screens.modals.prompt import PromptField, PromptModal
from daena_tui.styles import status_text

UNAVAILABLE = (
    "Tasks are not available in this build: the engine has no task service yet.\n\n"
    "When it has, this section lists the agent's tasks with their steps and budget, and "
    "creates, runs, resumes and cancels them (SPEC §7)."
)


def burn_down(used: int, limit: int, width: int = 20) -> str:
    """`▮▮▮▯▯ 3/5 steps`: how much of the step budget is spent."""
    if limit <= 0:
        return f"{used} steps"
    filled = min(width, round(width * used / limit))
    return "▮" * filled + "▯" * (width - filled) + f" {used}/{limit} steps"


class TasksScreen(SectionScreen):
    SECTION = "tasks"
    CSS_PATH = "tasks.tcss"
    RELOAD_ON = (engine.TaskChanged,)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "create", "New task"),
        Binding("enter", "run_task", "Run", show=False),
        Binding("g", "run_task", "Run"),
        Binding("u", "resume", "Resume"),
        Binding("x", "cancel_task", "Cancel task"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.tasks: dict[str, Any] = {}

    def compose_body(self) -> ComposeResult:
        yield Static(UNAVAILABLE, id="tasks-unavailable")
        table: DataTable[str | Text] = DataTable(id="tasks-table", cursor_type="row")
        table.add_column("Task", key="id", width=14)
        table.add_column("Status", key="status", width=16)
        table.add_column("Source", key="source", width=18)
        table.add_column("Goal", key="goal")
        yield table
        with VerticalScroll(id="task-detail-scroll"):
            yield Static(id="task-detail")

    @property
    def service(self) -> Any | None:
        return services.service(self.eng, "tasks")

    def on_mount(self) -> None:
        available = self.service is not None
        self.query_one("#tasks-unavailable").display = not available
        self.query_one("#tasks-table").display = available
        self.query_one("#task-detail-scroll").display = available

    def reload(self) -> None:
        if self.service is not None:
            self._load()

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        try:
            items = list(await services.call(self.service, ("list",)))
        except engine.EngineError as err:
            self.report(err)
            return
        self.tasks = {str(services.field_of(t, "id")): t for t in items}
        table = self.query_one("#tasks-table", DataTable)
        table.clear()
        for task_id, t in self.tasks.items():
            table.add_row(
                task_id,
                status_text(self.app, str(services.field_of(t, "status", ""))),
                str(services.field_of(t, "source", "")),
                str(services.field_of(t, "goal", "")),
                key=task_id,
            )
        self._show_detail()

    def _current(self) -> Any | None:
        table = self.query_one("#tasks-table", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.tasks.get(str(key))

    @on(DataTable.RowHighlighted)
    def _row_changed(self) -> None:
        self._show_detail()

    @work(exclusive=True, group="detail")
    async def _show_detail(self) -> None:
        """The list has no steps; fetch the selected task in full."""
        task = self._current()
        detail = self.query_one("#task-detail", Static)
        if task is None:
            detail.update(Text("No task selected.", style="dim"))
            return
        try:
            full = await services.call(self.service, ("get",), str(services.field_of(task, "id")))
        except engine.EngineError as err:
            self.report(err)
            return
        detail.update(self._detail(full))

    def _detail(self, task: Any) -> RenderableType:
        f = services.field_of
        steps = list(f(task, "steps") or [])
        limit = int(f(f(task, "budget"), "max_steps", 0) or 0)
        used = int(f(task, "steps_started", len(steps)) or 0)
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold")
        head.add_column()
        head.add_row("goal", str(f(task, "goal", "")))
        head.add_row("status", status_text(self.app, str(f(task, "status", ""))))
        head.add_row("plan", str(f(task, "source", "")))
        if f(task, "reason"):
            head.add_row("why", str(f(task, "reason")))
        head.add_row("budget", burn_down(used, limit))
        table = Table("#", "tool", "status", "attempts", "result", expand=True)
        for i, step in enumerate(steps, 1):
            table.add_row(
                str(i),
                str(f(step, "tool", "")),
                status_text(self.app, str(f(step, "status", ""))),
                str(f(step, "attempts", "")),
                str(f(step, "result_summary", "") or f(step, "error", "") or "")[:120],
            )
        return Group(head, table)

    @work(group="create")
    async def action_create(self) -> None:
        if self.service is None:
            self.notify("Tasks are not available in this build.", title="Tasks")
            return
        values = await self.app.push_screen_wait(
            PromptModal(
                "New task",
                [
                    PromptField("goal", "Goal", placeholder="what the agent should achieve"),
                    PromptField(
                        "playbook", "Playbook (optional)", placeholder="name in config/playbooks"
                    ),
                ],
                submit="Create",
            )
        )
        if not values:
            return
        goal, playbook = values["goal"].strip(), values["playbook"].strip()
        if playbook:
            await self._call(("create_from_playbook",), "Task created", playbook, goal=goal or None)
        elif goal:
            await self._call(("create_from_goal",), "Task created", goal)
        else:
            self.notify("goal: give a goal or a playbook", title="Invalid input", severity="error")

    def action_run_task(self) -> None:
        self._act(("run",), "Task run finished or waiting")

    def action_resume(self) -> None:
        self._act(("resume",), "Task resumed")

    @work(group="act")
    async def action_cancel_task(self) -> None:
        task = self._current()
        if task is None:
            return
        task_id = str(services.field_of(task, "id"))
        if await self.app.push_screen_wait(
            ConfirmModal(
                f"Cancel task {task_id}?",
                "Its remaining steps will not run.",
                confirm="Cancel task",
            )
        ):
            await self._call(("cancel",), "Task cancelled", task_id, "cancelled from the console")

    @work(group="act")
    async def _act(self, names: tuple[str, ...], done: str) -> None:
        task = self._current()
        if task is not None:
            await self._call(names, done, str(services.field_of(task, "id")))

    async def _call(self, names: tuple[str, ...], done: str, *args: Any, **kwargs: Any) -> None:
        try:
            await services.call(self.service, names, *args, **kwargs)
        except engine.EngineError as err:
            self.report(err)
            return
        self.notify(done, title="Tasks")
        self.reload()
