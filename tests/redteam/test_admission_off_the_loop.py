"""Red team, the console stays the operator's: an agent's arguments cannot freeze it.

Admission (validation, confinement, the allowlist) runs before every run, every inbox
request, every approval's preflight and every explanation: the inbox's "decided by" asks
`Engine.explain` each time a request is selected. Its work grows with the arguments: a
2 MB patch that creates 40,000 one-line files cost ~30 s of confinement checks, all on the
event loop, so selecting that request froze the console (no key, no lockdown) and the
API server answered nobody meanwhile. A check over large arguments now runs in a worker
thread: the loop keeps turning while it works.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from typing import Any

from engine import Engine, RunRequest

FILES = 10_000


def many_files_patch(n: int = FILES) -> str:
    return "".join(f"--- /dev/null\n+++ b/d/f{i}.txt\n@@ -0,0 +1 @@\n+x\n" for i in range(n))


async def loop_turns_while(work: asyncio.Task[object], turns: int = 200) -> bool:
    """Whether the loop ran `turns` other steps while `work` was still unfinished."""
    for _ in range(turns):
        await asyncio.sleep(0)
        if work.done():
            return False
    return True


def checked_where(eng: Engine, tool: str) -> list[bool]:
    """Wrap the tool's own check (the real one still runs) to note, per call, whether it
    ran on the event loop's thread."""
    spec = eng.registry.get(tool)
    check = spec.check
    assert check is not None
    on_loop: list[bool] = []
    loop_thread = threading.current_thread()

    def noting(ctx: Any, args: Any) -> None:
        on_loop.append(threading.current_thread() is loop_thread)
        check(ctx, args)

    eng.registry.unregister(tool)
    eng.registry.register(replace(spec, check=noting))
    return on_loop


async def test_explaining_a_huge_patch_leaves_the_loop_free(eng: Engine) -> None:
    await eng.set_tool_enabled("apply_patch", True)
    on_loop = checked_where(eng, "apply_patch")
    call = RunRequest(tool="apply_patch", args={"patch": many_files_patch()}, dry_run=False)
    await eng.explain(RunRequest(tool="git_status"))  # warm: the policy read is not measured
    work = asyncio.ensure_future(eng.explain(call))
    assert await loop_turns_while(work), "the check ran on the event loop"
    decision = await work
    assert decision.rule == "risk_mode"  # the same decision, only computed off the loop
    assert on_loop == [False]
    small = RunRequest(tool="apply_patch", args={"patch": many_files_patch(1)}, dry_run=False)
    assert (await eng.explain(small)).rule == "risk_mode"
    assert on_loop == [False, True]  # a small call keeps the cheap path (no thread hop)


async def test_an_agent_request_with_a_huge_patch_leaves_the_loop_free(eng: Engine) -> None:
    await eng.set_tool_enabled("apply_patch", True)
    on_loop = checked_where(eng, "apply_patch")
    agent = eng.as_agent("mallory")
    request = await agent.request("apply_patch", {"patch": many_files_patch()})
    assert on_loop == [False]
    assert request.status == "pending"
    assert not (eng.settings.execution_workspace_root / "d").exists()


async def test_a_long_list_of_short_paths_is_checked_off_the_loop(eng: Engine) -> None:
    on_loop = checked_where(eng, "git_diff")
    call = RunRequest(tool="git_diff", args={"paths": ["a"] * 3000})
    decision = await eng.explain(call)
    assert decision.rule == "low_risk"
    assert on_loop == [False]  # 3,000 one-letter paths: 3,000 confinements
