"""Benchmark 15: every text filter on a large log, at the query level (`eng.audit.page`,
one page of 100, what the Logs screen asks for), one- and two-character terms included.

A text of three characters or more is answered by the trigram index; a shorter one is
scanned, at most `audit_search.SHORT_SCAN` records per page, and the page says where it
stopped (`scanned_to`), so the first screenful is bounded and paging on continues the
scan. Each filter runs `--runs` times after one warm-up; p95 is over those runs.

    python make_audit_db.py /tmp/h19a/d5m.db --workspace /tmp/h19a/ws -n 5000000
    python bench_filters.py /tmp/h19a/d5m.db --workspace /tmp/h19a/ws --runs 9
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from common import header, stats_ms

from engine import AuditFilter, Engine, load_settings

HOUR = 3600.0


def cases(newest_ts: float) -> dict[str, AuditFilter]:
    return {
        "rare ('module_4242.py')": AuditFilter(text="module_4242.py"),
        "no match ('no-such-text')": AuditFilter(text="no-such-text"),
        "common ('alice')": AuditFilter(text="alice"),
        "1 character, common ('a')": AuditFilter(text="a"),
        "1 character, absent ('~')": AuditFilter(text="~"),
        "2 characters, common ('_9')": AuditFilter(text="_9"),
        "2 characters, absent ('Qz')": AuditFilter(text="Qz"),
        "2 characters + tool": AuditFilter(text="Qz", tool="shell_exec"),
        "text + tool ('failed: code 3')": AuditFilter(text="failed: code 3", tool="shell_exec"),
        "text + since (last hour)": AuditFilter(text="alice", since=newest_ts - HOUR),
        "text + until (5 days back)": AuditFilter(text="alice", until=newest_ts - 120 * HOUR),
        "rare + until (10 days back)": AuditFilter(
            text="module_4242.py", until=newest_ts - 240 * HOUR
        ),
        "2 characters + until (5 days back)": AuditFilter(text="Qz", until=newest_ts - 120 * HOUR),
    }


async def main(db: Path, ws: Path, runs: int) -> None:
    header("text filters, one page of 100, at the query level")
    settings = load_settings(env_file=None, DAENA_DB_PATH=str(db), EXECUTION_WORKSPACE_ROOT=str(ws))
    async with Engine.open(settings) as eng:
        await eng.sweeper.idle.wait()
        start = time.perf_counter()  # what the console and `daena serve` do in the background
        await eng.audit.index_backlog()
        print(f"index and time-order backlog drained in {time.perf_counter() - start:.1f} s")
        newest = await eng.audit.get(await eng.audit.last_id())
        assert newest is not None
        print(f"records: about {newest.id:,}")
        worst = 0.0
        for name, filters in cases(newest.ts).items():
            await eng.audit.page(filters, limit=100)  # warm-up
            samples = []
            for _ in range(runs):
                start = time.perf_counter()
                page = await eng.audit.page(filters, limit=100)
                samples.append(time.perf_counter() - start)
            ordered = sorted(samples)
            worst = max(worst, ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))])
            scanned = "" if page.scanned_to is None else f", scan stopped at id {page.scanned_to:,}"
            print(f"{name}: {stats_ms(samples)}, {len(page)} rows{scanned}")
        print(f"worst p95: {worst * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    asyncio.run(main(args.db, args.workspace, args.runs))
