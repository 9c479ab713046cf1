"""Tasks (docs/architecture.md, flow (c)): the task service's list, a task's steps, budget burn-down
and report; create from a playbook (its variables asked for in a second form) or from a goal for the
planner; run, resume and cancel. Everything goes through `eng.tasks`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label, Static

import engine
from daena_tui.console.render import agent_cell, agent_text
from daena_tui.console.screens.base import SectionScreen
from daena_tui.console.screens.modals.confirm import ConfirmModal
from daena_tui.console.screens.modals.prompt import PromptField, PromptModal
from daena_tui.console.screens.modals.timeline import TimelineModal
from daena_tui.console.styles import status_severity, status_text, tone
from daena_tui.console.widgets.live_table import capped, cut_short
from daena_tui.console.widgets.tables import TaskTable
from engine import Playbook, Task
from engine.safety.display import inert_one_line

ARTIFACT_LINES = 20
EMPTY = "No tasks yet. Press n to create one from a playbook or from a goal."


def burn_down(used: int, limit: int, width: int = 20) -> str:
    """`▮▮▮▯▯ 3/5 steps`: how much of the step budget is spent."""
    if limit <= 0:
        return f"{used} steps"
    filled = min(width, round(width * used / limit))
    return "▮" * filled + "▯" * (width - filled) + f" {used}/{limit} steps"


TASK_PAGE = 200


class TasksScreen(SectionScreen):
    SECTION = "tasks"
    RELOAD_ON = (engine.TaskChanged, engine.TaskStepChanged)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "create", "New task"),
        Binding("g", "run_task", "Run"),
        Binding("u", "resume", "Resume"),
        Binding("x", "cancel_task", "Cancel task"),
        Binding("m", "more", "More rows", show=False),  # the title says when there are more
        Binding("t", "timeline", "Timeline", show=False, tooltip="The selected task's story"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.tasks: dict[str, Task] = {}
        self.detail: Task | None = None  # the selected task in full (with its steps)
        self._select: str | None = None  # a task to put the cursor on at the next load
        self.limit = TASK_PAGE  # m raises it
        self.total = 0  # every task, however many are shown

    def compose_body(self) -> ComposeResult:
        yield Label("", id="tasks-title")
        table = TaskTable(id="tasks-table")
        table.titled("Tasks")
        table.add_fit_column("Task", key="id", width=14, flex=1, most=22)
        table.add_fit_column("Status", key="status", width=10, flex=1, most=16)
        table.add_fit_column("Source", key="source", width=10, flex=1, most=22)
        table.add_fit_column("Goal", key="goal", width=10, flex=3)
        yield table
        with VerticalScroll(id="task-detail-scroll"):
            yield Static(id="task-detail")

    def reload(self) -> None:
        self._load()

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        try:
            items = await self.eng.tasks.list(limit=self.limit)
            self.total = await self.eng.tasks.count()
        except engine.EngineError as err:
            self.report(err)
            return
        table = self.query_one("#tasks-table", TaskTable)
        keep = self._select or table.current_key()
        self._select = None
        self.tasks = {t.id: t for t in items}
        title = self.query_one("#tasks-title", Label)
        title.display = cut_short(len(items), self.total, self.limit)  # only when cut short
        shown = capped(len(items), self.total, self.limit)
        title.update(f"Tasks — {shown}, newest first (m: {TASK_PAGE} more)")
        table.clear()
        for t in items:
            table.add_row(
                t.id,
                status_text(self.app, t.status),
                agent_cell(t.source, 60),
                agent_cell(t.goal),  # a planner's goal and steps are agent text: inert
                key=t.id,
            )
        if keep in self.tasks:
            table.move_cursor(row=table.get_row_index(keep))
        self._show_detail()

    def action_more(self) -> None:
        """m: show another page of tasks (when the title says there are more)."""
        self.limit += TASK_PAGE
        self.reload()

    def _current(self) -> Task | None:
        key = self.query_one("#tasks-table", TaskTable).current_key()
        return None if key is None else self.tasks.get(key)

    @on(DataTable.RowHighlighted, "#tasks-table")
    def _row_changed(self) -> None:
        self._show_detail()

    @on(DataTable.RowSelected, "#tasks-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_run_task()

    @work(exclusive=True, group="detail")
    async def _show_detail(self) -> None:
        """The list has no steps; fetch the selected task in full."""
        task = self._current()
        detail = self.query_one("#task-detail", Static)
        if task is None:
            self.detail = None
            detail.update(Text(EMPTY, style="dim"))
            return
        try:
            full = await self.eng.tasks.get(task.id)
        except engine.EngineError as err:
            self.report(err)
            return
        self.detail = full
        detail.update(self._detail(full))

    def _detail(self, task: Task) -> RenderableType:
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold", no_wrap=True)
        head.add_column()
        head.add_row("goal", agent_text(task.goal, max_lines=10, more=""))
        head.add_row("status", status_text(self.app, task.status))
        head.add_row("plan", agent_cell(task.source))
        if task.variables:
            pairs = ", ".join(f"{k}={v}" for k, v in task.variables.items())
            head.add_row("variables", agent_cell(pairs, 2000))
        if task.reason:
            head.add_row("why", agent_text(task.reason, max_lines=10, more=""))
        head.add_row("budget", burn_down(task.steps_started, task.budget.max_steps))
        limit = task.budget.max_seconds
        ran = f"{task.running_seconds():.1f} s" + (f" of {limit:g} s" if limit else "")
        head.add_row("time", ran)
        head.add_row("created", f"{self.clock.format(task.created_at)} by {task.created_by}")
        parts: list[RenderableType] = [head]
        if task.steps:
            steps = Table("#", "step", "tool", "status", "tries", "result", expand=True)
            for step in task.steps:
                steps.add_row(
                    str(step.index + 1),
                    agent_cell(step.title or step.tool, 120),
                    agent_cell(step.tool, 60),
                    status_text(self.app, step.status),
                    str(step.attempts),
                    agent_cell(step.error or step.result_summary or "", 120),
                )
            parts.append(steps)
        elif task.planner:
            parts.append(Text("The planner proposes steps one at a time.", style="dim"))
        for artifact in task.artifacts:
            shown = agent_text(artifact.content, max_lines=ARTIFACT_LINES, more="")
            parts += [tone(self.app, "accent", f"\n{artifact.kind}", bold=True), shown]
        return Group(*parts)

    # -- creating -------------------------------------------------------------------------

    @work(group="create")
    async def action_create(self) -> None:
        playbooks, problems = await asyncio.to_thread(self.eng.tasks.list_playbooks)
        for problem in problems:
            self.notify(problem, title="Invalid playbook", severity="warning", markup=False)
        names = ", ".join(p.name for p in playbooks) or "none"

        async def check(values: dict[str, str]) -> str | None:
            """Bad input keeps the dialog open, the message under its field."""
            name, goal = values["playbook"].strip(), values["goal"].strip()
            if name and name not in {p.name for p in playbooks}:
                return f"playbook: no playbook named {name!r} (one of: {names})"
            if not name and not goal:
                return "goal: give a playbook or a goal"
            return None

        values = await self.app.push_screen_wait(
            PromptModal(
                "New task",
                [
                    PromptField("playbook", "Playbook", placeholder=f"one of: {names}"),
                    PromptField(
                        "goal",
                        "Goal",
                        placeholder="for the planner; with a playbook, the task's title",
                    ),
                ],
                submit="Next",
                check=check,
            )
        )
        if not values:
            return
        name, goal = values["playbook"].strip(), values["goal"].strip()
        if not name:
            if not goal:
                self.notify(
                    "goal: give a playbook or a goal", title="Invalid input", severity="error"
                )
                return
            await self._create(lambda: self.eng.tasks.create_from_goal(goal))
            return
        playbook = next((p for p in playbooks if p.name == name), None)
        variables = await self._ask_variables(playbook) if playbook else {}
        if variables is None:
            return
        await self._create(
            lambda: self.eng.tasks.create_from_playbook(name, variables, goal=goal or None)
        )

    async def _ask_variables(self, playbook: Playbook) -> dict[str, str] | None:
        """The playbook's variables (defaults filled in); None when the operator cancels."""
        if not playbook.variables:
            return {}
        values = await self.app.push_screen_wait(
            PromptModal(
                f"Variables of {playbook.name}",
                [
                    PromptField(v.name, v.name, value=v.default or "", placeholder=v.description)
                    for v in playbook.variables
                ],
                submit="Create",
            )
        )
        if values is None:
            return None
        return {k: v for k, v in values.items() if v != ""}  # empty: the default, or an error

    async def _create(self, make: Callable[[], Awaitable[Task]]) -> None:
        try:
            task = await make()
        except engine.EngineError as err:
            self.report(err)
            return
        self._select = task.id
        self.notify(f"Task {task.id} created; g runs it.", title="Tasks")
        self.reload()

    # -- running --------------------------------------------------------------------------

    def action_timeline(self) -> None:
        """t: the selected task's audit records as a timeline."""
        task = self._current()
        if task is not None:
            self.app.push_screen(TimelineModal(self.clock, task_id=task.id))

    def action_run_task(self) -> None:
        task = self._current()
        if task is not None:
            self._drive(task.id, resume=False)

    def action_resume(self) -> None:
        task = self._current()
        if task is not None:
            self._drive(task.id, resume=True)

    @work(group="act")
    async def _drive(self, task_id: str, *, resume: bool) -> None:
        """Run or resume until the task stops or waits (the list follows its events)."""
        try:
            if resume:
                task = await self.eng.tasks.resume(task_id)
            else:
                task = await self.eng.tasks.run(task_id)
        except engine.EngineError as err:
            self.report(err)
            return
        self._tell(task)

    def _tell(self, task: Task) -> None:
        message = f"Task {task.id}: {task.status}"
        if task.status == engine.TaskStatus.WAITING_APPROVAL:
            message += " — decide in the inbox (3), then resume it (u)"
        elif task.reason:
            message += f" — {inert_one_line(task.reason, 300)}"
        self.notify(
            message,
            title="Tasks",
            severity=status_severity(task.status),
            markup=False,
        )

    @work(group="act")
    async def action_cancel_task(self) -> None:
        task = self._current()
        if task is None:
            return
        confirmed = await self.app.push_screen_wait(
            ConfirmModal(
                f"Cancel task {task.id}?",
                "Its remaining steps will not run; a request it waits on is denied.",
                confirm="Cancel task",
            )
        )
        if not confirmed:
            return
        try:
            await self.eng.tasks.cancel(task.id, "cancelled from the console")
        except engine.EngineError as err:
            self.report(err)
            return
        self.notify(f"Task {task.id} cancelled", title="Tasks")
