"""The budget guard (docs/architecture.md, "Flow (c)"), in one place so the rules are easy to
read and test.

- Steps: a task starts at most `min(task.max_steps, config.max_steps_per_run)` steps. A step
  counts once however often it is retried; when the next step would pass the cap the task
  ends `budget_exhausted`, never `completed`.
- Retries: a failing step (status `error` or `timeout`) is retried only when it has
  `retry_on_failure`, at most `min(step.max_retries, task.max_retries,
  config.max_retries_per_tool)` times. Refusals and denials are never retried.
- Wall clock: with `max_seconds`, the seconds the task has spent `running` (summed over every
  run and resume; time waiting for an approval or lying interrupted does not count) are
  checked before every attempt and every planner call; past the limit the task ends
  `budget_exhausted`. A step already running is not killed: it has its own timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.policy import ExecutionConfig
from engine.tasks.models import Task, TaskStep


@dataclass(frozen=True)
class BudgetGuard:
    task: Task
    config: ExecutionConfig

    @property
    def step_cap(self) -> int:
        return min(self.task.budget.max_steps, self.config.max_steps_per_run)

    def may_start_step(self, steps_started: int) -> bool:
        return steps_started < self.step_cap

    def retries_allowed(self, step: TaskStep) -> int:
        if not step.retry_on_failure:
            return 0
        return max(
            0,
            min(step.max_retries, self.task.budget.max_retries, self.config.max_retries_per_tool),
        )

    def may_retry(self, step: TaskStep) -> bool:
        """After `step.attempts` attempts, is one more allowed? (retries = attempts - 1)"""
        return step.attempts - 1 < self.retries_allowed(step)

    def out_of_time(self, task: Task, now: float | None = None) -> bool:
        limit = self.task.budget.max_seconds
        return limit is not None and task.running_seconds(now) >= limit

    def steps_message(self) -> str:
        cap = self.step_cap
        which = (
            "the task's max_steps"
            if self.task.budget.max_steps <= self.config.max_steps_per_run
            else "max_steps_per_run"
        )
        return f"budget: {cap} step{'s' if cap != 1 else ''} used ({which})"

    def time_message(self) -> str:
        return f"budget: max_seconds {self.task.budget.max_seconds:g} s of running time used"
