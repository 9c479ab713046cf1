"""Live views under load: the console's CPU and RSS while an agent writes runs.

A console runs in a real terminal (tmux, benchmarks/console_harness.py) on the Logs
section (live tail on) or the Approvals section (with `--pending` requests waiting); an
agent process runs `git_status` through its own engine at `--rate` runs per second. Every
`--every` seconds we read the console process's CPU time and RSS (psutil), so the series
shows whether the cost per event stays constant and the memory flat.

Each variant runs in the same invocation, one after the other, on a fresh database:
`before` is the whole project as of `--before` (faa8431, the last commit before issue 19
work began whose tree runs on its own: the layout commit after it needs later files), unpacked
with git archive and put first on PYTHONPATH for the console and the agent); `old` is the
code as it is but with, inside the console process, the tail of before issue 19 put back
(every event clears the table and re-adds every row shown, which never shrinks; the inbox
reloads and re-fills on every run); `at:COMMIT` is the whole project at COMMIT, as
`before` (e.g. the Logs table before it became a virtual table: `at:dba68f9`); `new` is the
code as it is. Since the Logs table became a `VirtualTable`, `old` re-fills that table on
every event (the old tail's pattern, not the old DataTable's cost: use `at:` for that).
Target (issue 19): under 10 % of a core at 50 runs/s, RSS flat.

    python benchmarks/bench_console_live.py [--seconds 60] [--rate 50] [--section logs]
        [--pending 0] [--variants before,at:dba68f9,new]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import textwrap
import time

from common import bench_settings, header, temp_dir
from console_harness import TmuxConsole, code_at, usage

AGENT = textwrap.dedent(
    """
    import asyncio, sys, time
    from engine import Engine, load_settings

    async def main(rate, seconds):
        settings = load_settings(env_file=None)
        async with Engine.open(settings) as eng:
            start = time.monotonic()
            n = 0
            while time.monotonic() - start < seconds:
                await eng.run("git_status", requester="agent")
                n += 1
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            print(n / (time.monotonic() - start), flush=True)
    asyncio.run(main(float(sys.argv[1]), float(sys.argv[2])))
    """
)

SETUP = textwrap.dedent(
    """
    import asyncio, sys
    from engine import Engine, load_settings

    async def main(pending):
        async with Engine.open(load_settings(env_file=None)) as eng:
            await eng.set_tool_enabled("filesystem_write", True)
            agent = eng.as_agent("agent")
            for n in range(pending):
                await agent.run("filesystem_write", {"path": f"f{n}.txt", "content": str(n)})
    asyncio.run(main(int(sys.argv[1])))
    """
)

OLD = {
    "logs": textwrap.dedent(
        """
        from daena_tui.console.screens import logs as _logs

        async def _old_tail_once(self):
            top = self.records[0].id if self.records else 0
            fresh = await self.eng.audit.page(self.filters, after_id=top, limit=_logs.PAGE)
            if not fresh or (self.records and self.records[0].id != top):
                return
            if len(fresh) == _logs.PAGE and self.records:
                self.reload()
                return
            self.records = fresh + self.records
            self._fill(keep_cursor=True)  # clear, then add every record shown

        _logs.LogsScreen._tail_once = _old_tail_once
        _logs.LogsScreen._request_tail = lambda self: self._tail()  # one worker per event
        """
    ),
    "approvals": textwrap.dedent(
        """
        from daena_tui.console.screens import approvals as _approvals
        from daena_tui.console.screens.base import SectionScreen
        from daena_tui.console.widgets.live_table import LiveRows

        _approvals.ApprovalsScreen.on_engine_event_received = (
            SectionScreen.on_engine_event_received  # reload on every run
        )
        LiveRows.sync = LiveRows.rebuild  # clear, then add every row
        """
    ),
}


async def measure(
    section: str, variant: str, seconds: float, rate: float, every: float, pending: int, before: str
) -> None:
    settings = bench_settings(temp_dir(f"live-{variant}"))
    patch = OLD[section] if variant == "old" else ""
    commit = before if variant == "before" else variant[3:] if variant.startswith("at:") else ""
    pythonpath = {"PYTHONPATH": code_at(commit)} if commit else {}
    probe = TmuxConsole(settings, section)
    setup = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SETUP, str(pending), env={**os.environ, **probe.env, **pythonpath}
    )
    assert await setup.wait() == 0, "setup failed"
    with TmuxConsole(settings, section, patch=patch, extra_env=pythonpath) as console:
        await asyncio.sleep(3)  # first paint, first page
        agent = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            AGENT,
            str(rate),
            str(seconds + 5),
            env={**os.environ, **console.env, **pythonpath},
            stdout=asyncio.subprocess.PIPE,
        )
        await asyncio.sleep(5)  # warm-up: the agent's engine open, the first events
        series = [usage(console.pid)]
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            await asyncio.sleep(every)
            series.append(usage(console.pid))
        out, _ = await agent.communicate()
        achieved = float(out.decode().strip() or 0)
    cpu = [a.rate(b)[0] for a, b in itertools.pairwise(series)]
    total = series[0].rate(series[-1])[0]
    rss = [u.rss / 2**20 for u in series]
    print(
        f"{variant:>6} {section}: agent {achieved:.1f} runs/s; console {total:.1f} % of a core "
        f"over {seconds:.0f} s (per {every:.0f} s: {', '.join(f'{c:.0f}' for c in cpu)}); "
        f"RSS {rss[0]:.1f} -> {rss[-1]:.1f} MB (max {max(rss):.1f}; "
        f"per {every:.0f} s: {', '.join(f'{r:.1f}' for r in rss)})"
    )


async def main(args: argparse.Namespace) -> None:
    header(
        f"console under load: {args.section} section, {args.rate:g} runs/s, {args.pending} pending"
    )
    for variant in args.variants.split(","):
        await measure(
            args.section, variant, args.seconds, args.rate, args.every, args.pending, args.before
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--section", choices=sorted(OLD), default="logs")
    parser.add_argument("--pending", type=int, default=0)
    parser.add_argument(
        "--variants",
        default="before,old,new",
        help="before: the code at --before; at:COMMIT: the code at COMMIT; old; new",
    )
    parser.add_argument("--before", default="faa8431", help="the commit 'before' runs (see above)")
    parser.add_argument("--every", type=float, default=10)
    asyncio.run(main(parser.parse_args()))
