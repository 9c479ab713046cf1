"""Benchmark 14: `audit export` against a plain loop writing the same rows, one run.

The plain loop is the floor: one sqlite3 cursor over the same columns, the same dict per
record (columns, ISO time, parsed args), `json.dumps` per line, written to the same kind of
file. "before issue 19" is the export as it was (records as dataclasses, `to_dict` with
`dataclasses.asdict`). Rounds are interleaved; files go to a temporary directory.

    python bench_export.py /tmp/h19a/d1m.db --workspace /tmp/h19a/ws1
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sqlite3
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from common import header, stats_ms, temp_dir

from engine import Engine, load_settings
from engine.audit import neutralise_cell

COLUMNS = (
    "id, ts, actor, action, tool, args, status, error, duration_ms, result_summary, "
    "trace_id, task_id, approval_id, prev_hash, hash"
)
NAMES = COLUMNS.split(", ")


def plain_loop(db: Path, out: Path, fmt: str) -> float:
    conn = sqlite3.connect(db)
    start = time.perf_counter()
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle) if fmt == "csv" else None
        if writer is not None:
            writer.writerow([*NAMES, "time"])
        for row in conn.execute(f"SELECT {COLUMNS} FROM audit ORDER BY id"):
            when = datetime.fromtimestamp(row[1], UTC).isoformat(timespec="milliseconds")
            if writer is None:
                data = dict(zip(NAMES, row, strict=True))
                data["time"] = when
                data["args"] = json.loads(row[5]) if row[5] else None
                handle.write(json.dumps(data, ensure_ascii=False) + "\n")
            else:
                writer.writerow([*(neutralise_cell(v) for v in row), when])
    conn.close()
    return time.perf_counter() - start


async def before_issue_19(eng: Engine, out: Path) -> float:
    start = time.perf_counter()
    with out.open("w", encoding="utf-8") as handle:
        async for rec in eng.audit.iterate():
            handle.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
    return time.perf_counter() - start


async def main(db: Path, ws: Path, rounds: int) -> None:
    header("audit export vs a plain loop writing the same rows")
    tmp = temp_dir("export")
    settings = load_settings(env_file=None, DAENA_DB_PATH=str(db), EXECUTION_WORKSPACE_ROOT=str(ws))
    async with Engine.open(settings) as eng:
        await eng.sweeper.idle.wait()
        records = await eng.audit.last_id()
        print(f"records: about {records:,}")
        for fmt in ("jsonl", "csv"):
            engine, plain = [], []
            for _ in range(rounds):
                plain.append(plain_loop(db, tmp / f"plain.{fmt}", fmt))
                start = time.perf_counter()
                with (tmp / f"engine.{fmt}").open("w", encoding="utf-8", newline="") as handle:
                    count = await eng.audit.export(handle, fmt)
                engine.append(time.perf_counter() - start)
            same = (tmp / f"plain.{fmt}").read_bytes() == (tmp / f"engine.{fmt}").read_bytes()
            print(f"[{fmt}] {count:,} records, identical output: {same}")
            print(f"[{fmt}] engine export: {stats_ms(engine)}")
            print(f"[{fmt}] plain loop: {stats_ms(plain)}")
            ratio = statistics.median(engine) / statistics.median(plain)
            print(f"[{fmt}] ratio engine/plain loop (medians): {ratio:.2f}x")
        before = await before_issue_19(eng, tmp / "before.jsonl")
        print(f"[jsonl] export as before issue 19: {before * 1000:.0f} ms (one run)")
        for path in tmp.iterdir():
            path.unlink()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.db, args.workspace, args.rounds))
