"""Benchmark 12: engine open with a long history vs an empty database, in one run.

The history: a database from `make_audit_db.py` (e.g. 5,000,000 audit records), plus
2,000,000 events from the last week (cached in the database after the first run) and,
before every round, 10,000 approval requests that expired while nothing ran and 20,000
events older than the retention: the work the start-up sweeps used to do inside open.
Rounds alternate between the history and a fresh empty database. "open" is the time from
`Engine.open` to its body; the sweeps then run in the background, and the script also
reports how long they take to finish and how a dry run fares meanwhile.

    python make_audit_db.py /tmp/h19a/d5m.db --workspace /tmp/h19a/ws -n 5000000
    python bench_startup.py /tmp/h19a/d5m.db --workspace /tmp/h19a/ws --rounds 7
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import time
import uuid
from pathlib import Path

from common import header, stats_ms, temp_dir

from engine import Engine, load_settings

WEEK = 7 * 24 * 3600.0
EVENTS = 2_000_000
EXPIRED = 10_000
OLD_EVENTS = 20_000


def top_up(db: Path) -> tuple[int, int]:
    """Bring the history to its shape: 2M recent events, 10,000 expired requests and
    20,000 events past the retention. Returns (expired requests, old events) added."""
    conn = sqlite3.connect(db, isolation_level=None)
    now = time.time()
    recent = conn.execute("SELECT COUNT(*) FROM events WHERE ts >= ?", (now - WEEK,)).fetchone()
    if recent[0] < EVENTS * 0.9:
        start = now - WEEK + 3600  # the oldest still inside the retention for the whole run
        step = (WEEK - 7200) / EVENTS
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO events (ts, origin, kind, payload) VALUES (?, 'bench', 'RunFinished', ?)",
            ((start + i * step, '{"audit_id":1}') for i in range(EVENTS - recent[0])),
        )
        conn.execute("COMMIT")
    pending = conn.execute(
        "SELECT COUNT(*) FROM approval_requests WHERE status = 'pending'"
    ).fetchone()[0]
    old = conn.execute("SELECT COUNT(*) FROM events WHERE ts < ?", (now - WEEK,)).fetchone()[0]
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO approval_requests (id, tool, args, args_hash, requester, created_at, "
        "expires_at, status) VALUES (?, 'filesystem_write', '{}', 'x', 'agent:bench', ?, ?, "
        "'pending')",
        ((f"req_{uuid.uuid4().hex}", now - 7200, now - 3600) for _ in range(EXPIRED - pending)),
    )
    conn.executemany(
        "INSERT INTO events (ts, origin, kind, payload) VALUES (?, 'bench', 'RunFinished', '{}')",
        ((now - WEEK - 3600 - i,) for i in range(OLD_EVENTS - old)),
    )
    conn.execute("COMMIT")
    conn.close()
    return EXPIRED - pending, OLD_EVENTS - old


async def open_once(db: Path, ws: Path, *, follow: bool = False) -> dict[str, float]:
    settings = load_settings(env_file=None, DAENA_DB_PATH=str(db), EXECUTION_WORKSPACE_ROOT=str(ws))
    start = time.perf_counter()
    async with Engine.open(settings) as eng:
        opened = time.perf_counter() - start
        out = {"open": opened}
        if follow:  # dry runs back to back while the sweeps run, then idle
            runs = []
            while not eng.sweeper.idle.is_set():
                t = time.perf_counter()
                await eng.run("git_status", dry_run=True)
                runs.append(time.perf_counter() - t)
            out["swept"] = time.perf_counter() - start
            out["batches"] = eng.sweeper.batches
            idle = []
            for _ in range(max(20, len(runs))):
                t = time.perf_counter()
                await eng.run("git_status", dry_run=True)
                idle.append(time.perf_counter() - t)
            RUNS_DURING.extend(runs)
            RUNS_IDLE.extend(idle)
    return out


RUNS_DURING: list[float] = []
RUNS_IDLE: list[float] = []


def old_style(db: Path) -> tuple[float, float]:
    """The work open used to do, as it did it (one transaction each, unindexed delete),
    timed on the same database: (events delete, expiry marking) in seconds. The expiry
    is timed as one transaction of UPDATEs only (without its audit records, so a floor)."""
    conn = sqlite3.connect(db, isolation_level=None)
    t = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM events NOT INDEXED WHERE ts < ?", (time.time() - WEEK,))
    conn.execute("ROLLBACK")
    events = time.perf_counter() - t
    t = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    rows = conn.execute(
        "SELECT id FROM approval_requests WHERE status = 'pending' AND expires_at <= ?",
        (time.time(),),
    ).fetchall()
    for (rid,) in rows:
        conn.execute("UPDATE approval_requests SET status = 'expired' WHERE id = ?", (rid,))
    conn.execute("ROLLBACK")
    return events, time.perf_counter() - t


def p99(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"{ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000:.3f} ms"


async def main(db: Path, ws: Path, rounds: int) -> None:
    header("engine open: long history vs empty database")
    empty_root = temp_dir("startup-empty")
    (empty_root / "ws").mkdir()
    await open_once(db, ws)  # migrations, caches
    audit = sqlite3.connect(db).execute("SELECT MAX(id) FROM audit").fetchone()[0]
    print(f"history: {audit:,} audit records")
    top_up(db)
    unindexed, one_tx = old_style(db)
    print(
        f"old start-up work on this history, for reference: unindexed events DELETE "
        f"{unindexed * 1000:.0f} ms, {EXPIRED:,} expiries' UPDATEs alone in one transaction "
        f"{one_tx * 1000:.0f} ms (the audit record for each came on top)"
    )
    empty_db = empty_root / "empty.db"
    await open_once(empty_db, empty_root / "ws")  # created once: the baseline reopens it
    big, small, swept = [], [], []
    for i in range(rounds):
        added = top_up(db)
        small.append((await open_once(empty_db, empty_root / "ws"))["open"])
        result = await open_once(db, ws, follow=True)
        big.append(result["open"])
        swept.append(result["swept"])
        print(
            f"  round {i + 1}: history {result['open'] * 1000:.1f} ms, empty "
            f"{small[-1] * 1000:.1f} ms; swept {added[0]:,} expired + {added[1]:,} old events "
            f"in {result['batches']:.0f} batches, done {result['swept'] * 1000:.0f} ms after open"
        )
    print(f"open, history: {stats_ms(big)}")
    print(f"open, empty database: {stats_ms(small)}")
    print(f"ratio (medians): {statistics.median(big) / statistics.median(small):.2f}x")
    print(f"dry runs while the sweeps run: {stats_ms(RUNS_DURING)}, p99 {p99(RUNS_DURING)}")
    print(f"dry runs after they finished: {stats_ms(RUNS_IDLE)}, p99 {p99(RUNS_IDLE)}")
    print(f"sweeps finished after open began: {stats_ms(swept)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.db, args.workspace, args.rounds))
