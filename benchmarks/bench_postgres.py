"""Benchmark: PostgreSQL beside SQLite, same machine, one run (issue 21).

1. Audited runs/s with 1, 4 and 16 writer processes (each its own engine; a dry run of
   git_status: policy, validation, one hash-chained audit record and its event, committed).
2. Cross-process visibility: a writer process files an approval request; the clock runs from
   its commit to the event on a watching engine's bus (SQLite: the watcher's file-change wake
   or poll; PostgreSQL: LISTEN/NOTIFY).
3. Task claims: 1 and 4 worker processes (`TaskService.run_next`) taking 200 one-step tasks,
   tasks/s and doubles on both backends (tests/postgres/claim_worker.py).
4. Multi-host simulation: 4 processes with different host names x RUNS audited runs, plus
   their approvals and task runs racing (tests/postgres/host_worker.py), on PostgreSQL:
   totals, doubles, chain, time.
5. Logs filters at N records on both (one page of 100, as the Logs screen asks): the
   SQLite database from make_audit_db.py, copied to PostgreSQL by `daena db migrate`'s copy;
   for the absent 1- and 2-character terms also the same contains over every record
   (`count`), which is what a page would cost without the per-page bound.

The server is a throw-away cluster (tests/postgres/cluster.py) with fsync and
synchronous_commit on, as SQLite runs at synchronous=FULL.

    python benchmarks/bench_postgres.py --runs 500 --records 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import bench_settings, header, make_repo, stats_ms, temp_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import Engine  # noqa: E402
from engine.events import ApprovalRequested  # noqa: E402
from tests.postgres.cluster import Cluster  # noqa: E402

WRITER = """
import asyncio, os, sys, time
from pathlib import Path
from engine import Engine, load_settings
async def main(n, go):
    async with Engine.open(load_settings(env_file=None)) as eng:
        while not Path(go).exists():
            await asyncio.sleep(0.005)
        start = time.time()
        for _ in range(n):
            await eng.run("git_status", dry_run=True)
        print(start, time.time(), flush=True)
asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
"""

REQUESTER = """
import asyncio, sys, time
from engine import Engine, load_settings
async def main():
    async with Engine.open(load_settings(env_file=None)) as eng:
        for line in sys.stdin:
            request = await eng.as_agent("other").request("git_status", reason=line.strip())
            print(request.id, time.time(), flush=True)
asyncio.run(main())
"""


def env_for(settings_root: Path, url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DAENA_DB_PATH": str(settings_root / "daena.db"),
        "EXECUTION_WORKSPACE_ROOT": str(settings_root / "ws"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DAENA_DB_URL", None)
    if url:
        env["DAENA_DB_URL"] = url
    return env


async def prepared(root: Path, url: str | None) -> None:
    extra = {"DAENA_DB_URL": url} if url else {}
    async with Engine.open(bench_settings(root, **extra)):
        pass


def writers(root: Path, url: str | None, count: int, runs: int) -> float:
    """Audited runs per second over `count` processes doing `runs` each."""
    go = root / f"go-{count}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(runs), str(go)],
            env=env_for(root, url),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    time.sleep(1.0 + 0.25 * count)  # every engine open before the start
    go.touch()
    spans = []
    for proc in procs:
        out, _ = proc.communicate(timeout=900)
        assert proc.returncode == 0
        start, end = map(float, out.split())
        spans.append((start, end))
    elapsed = max(e for _, e in spans) - min(s for s, _ in spans)
    return count * runs / elapsed


async def visibility(root: Path, url: str | None, rounds: int) -> list[float]:
    extra = {"DAENA_DB_URL": url} if url else {}
    samples = []
    async with Engine.open(bench_settings(root, **extra), watch=True) as eng:
        with eng.bus.subscription() as queue:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                REQUESTER,
                env=env_for(root, url),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            assert proc.stdin is not None and proc.stdout is not None
            await asyncio.sleep(2.0)  # both engines open, the watcher idle
            for n in range(rounds):
                proc.stdin.write(f"{n}\n".encode())
                await proc.stdin.drain()
                request_id, committed = (await proc.stdout.readline()).decode().split()
                while True:
                    event = await asyncio.wait_for(queue.get(), 30)
                    if isinstance(event, ApprovalRequested) and event.request_id == request_id:
                        samples.append(time.time() - float(committed))
                        break
                await asyncio.sleep(0.3)  # idle again before the next one
            proc.stdin.close()
            await proc.wait()
    return samples


def claims(cluster: Cluster, tasks: int, workers: int) -> None:
    """Task workers (`TaskService.run_next`, tests/postgres/claim_worker.py) on `tasks`
    one-step tasks: tasks/s from the first worker's start to the last one's end, and how
    many tasks were driven twice (must be 0), on both backends."""
    line = []
    for backend in ("sqlite", "postgresql"):
        root = temp_dir(f"claims-{backend}-{workers}")
        make_repo(root / "ws")
        url = cluster.fresh_database() if backend == "postgresql" else None

        async def prepare(url: str | None = url, root: Path = root) -> None:
            from engine.tasks.playbooks import PlaybookStep

            extra = {"DAENA_DB_URL": url} if url else {}
            async with Engine.open(bench_settings(root, **extra)) as eng:
                for i in range(tasks):
                    await eng.tasks.create(f"task {i}", [PlaybookStep(tool="git_status")])

        asyncio.run(prepare())
        go = root / "go"
        outs = [root / f"worker-{i}.json" for i in range(workers)]
        env = {**env_for(root, url), "DAENA_SIM_START": str(go)}
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.postgres.claim_worker", f"host-{i}", str(out)],
                env=env,
                cwd=ROOT,
            )
            for i, out in enumerate(outs)
        ]
        time.sleep(1.0 + 0.25 * workers)  # every engine open before the start
        go.touch()
        codes = [p.wait(timeout=1800) for p in procs]
        assert codes == [0] * workers, codes
        done = [json.loads(out.read_text()) for out in outs]
        driven = [t for d in done for t in d["driven"]]
        span = max(d["ended"] for d in done) - min(d["began"] for d in done)
        line.append((backend, len(driven) / span, len(driven) - len(set(driven)), len(driven)))
    ratio = line[1][1] / line[0][1]
    shown = ", ".join(
        f"{b} {rate:,.1f} tasks/s ({n} driven, {twice} twice)" for b, rate, twice, n in line
    )
    print(
        f"task claims, {workers} worker processes x {tasks} tasks: {shown} "
        f"(PostgreSQL/SQLite {ratio:.2f})"
    )


def multi_host(cluster: Cluster, runs: int) -> None:
    url = cluster.fresh_database()
    root = temp_dir("pg-hosts")
    make_repo(root / "ws")
    out = root / "hosts"
    out.mkdir()

    async def prepare() -> None:
        from engine.tasks.playbooks import PlaybookStep

        async with Engine.open(bench_settings(root, DAENA_DB_URL=url)) as eng:
            await eng.set_tool_enabled("filesystem_write", True)
            for i in range(20):
                await eng.tasks.create(f"task {i}", [PlaybookStep(tool="git_status")])

    asyncio.run(prepare())
    env = {**env_for(root, url), "DAENA_SIM_START": str(out / "go")}
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.postgres.host_worker",
                f"host-{i}",
                str(runs),
                str(out / f"{i}.json"),
            ],
            env=env,
            cwd=ROOT,
        )
        for i in range(4)
    ]
    time.sleep(3.0)
    (out / "go").touch()
    codes = [p.wait(timeout=3600) for p in procs]
    wall = time.perf_counter() - start
    results = [json.loads((out / f"{i}.json").read_text()) for i in range(4)]

    async def check() -> tuple[int, int, int, bool, int]:
        async with Engine.open(bench_settings(root, DAENA_DB_URL=url)) as eng:
            report = await eng.audit.verify()
            rows = await eng.db.fetchall("SELECT action, approval_id, task_id FROM audit")
            runs_of: dict[str, int] = {}
            for r in rows:
                if r["action"] == "run" and r["approval_id"]:
                    runs_of[r["approval_id"]] = runs_of.get(r["approval_id"], 0) + 1
            task_runs = sum(1 for r in rows if r["action"] == "run" and r["task_id"])
            doubled = sum(1 for n in runs_of.values() if n > 1)
            return len(rows), len(runs_of), task_runs, report.ok, doubled

    total, approved_runs, task_runs, ok, doubled = asyncio.run(check())
    direct = sum(int(r["runs"]) for r in results)
    approved = sum(len(r["approved"]) for r in results)
    print(
        f"multi-host: 4 hosts x {runs} audited runs in {wall:.1f} s (exit codes {codes}); "
        f"direct runs {direct}, requests approved {approved} (each run once: "
        f"{approved_runs} runs, {doubled} doubled), task steps run {task_runs} of 20, "
        f"{total} audit records, chain verifies: {ok}"
    )


async def filters(db: Path, ws: Path, url: str | None, runs: int) -> dict[str, list[float]]:
    from bench_filters import cases

    from engine import AuditFilter, load_settings

    extra = {"DAENA_DB_URL": url} if url else {}
    settings = load_settings(
        env_file=None, DAENA_DB_PATH=str(db), EXECUTION_WORKSPACE_ROOT=str(ws), **extra
    )
    found: dict[str, list[float]] = {}
    async with Engine.open(settings) as eng:
        newest = await eng.audit.get(await eng.audit.last_id())
        assert newest is not None
        for name, flt in cases(newest.ts).items():
            await eng.audit.page(flt, limit=100)
            samples = []
            for _ in range(runs):
                t = time.perf_counter()
                await eng.audit.page(flt, limit=100)
                samples.append(time.perf_counter() - t)
            found[name] = samples
        for text in ("~", "Qz"):  # what the bound saves: the same contains over every record
            samples = []
            for _ in range(max(1, runs // 2)):
                t = time.perf_counter()
                await eng.audit.count(AuditFilter(text=text))
                samples.append(time.perf_counter() - t)
            found[f"{text!r} over the whole log (count, no bound)"] = samples
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500, help="per host in the simulation")
    parser.add_argument("--writer-runs", type=int, default=300, help="per writer process")
    parser.add_argument("--rounds", type=int, default=20, help="visibility samples")
    parser.add_argument("--records", type=int, default=1_000_000, help="for the filters")
    parser.add_argument("--filter-runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=200, help="for the task claims")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        help="of: writers visibility console claims hosts filters",
    )
    args = parser.parse_args()
    header("PostgreSQL beside SQLite")
    cluster = Cluster(durable=True).start()
    try:
        with cluster.admin() as admin:
            print(f"server: {admin.execute('SHOW server_version').fetchone()[0]} (fsync on)")
        if "writers" not in args.skip:
            for count in (1, 4, 16):
                line = []
                for backend in ("sqlite", "postgresql"):
                    root = temp_dir(f"w{count}-{backend}")
                    url = cluster.fresh_database() if backend == "postgresql" else None
                    asyncio.run(prepared(root, url))
                    rate = writers(root, url, count, args.writer_runs)
                    line.append((backend, rate))
                ratio = line[1][1] / line[0][1]
                shown = ", ".join(f"{b} {r:,.0f} runs/s" for b, r in line)
                print(
                    f"{count:>2} writer processes x {args.writer_runs}: {shown} "
                    f"(PostgreSQL/SQLite {ratio:.2f})"
                )
        if "visibility" not in args.skip:
            for backend in ("sqlite", "postgresql"):
                root = temp_dir(f"vis-{backend}")
                url = cluster.fresh_database() if backend == "postgresql" else None
                samples = asyncio.run(visibility(root, url, args.rounds))
                print(
                    f"visibility, commit in another process to the event ({backend}): "
                    f"{stats_ms(samples)}, max {max(samples) * 1000:.0f} ms"
                )
        if "console" not in args.skip:  # the console's inbox on PostgreSQL (benchmark 6)
            env = {**env_for(temp_dir("console"), cluster.fresh_database())}
            subprocess.run(
                [sys.executable, "bench_approval_visibility.py", "--rounds", str(args.rounds)],
                env=env,
                cwd=ROOT / "benchmarks",
                check=True,
            )
        if "claims" not in args.skip:
            for count in (1, 4):
                claims(cluster, args.tasks, count)
        if "hosts" not in args.skip:
            multi_host(cluster, args.runs)
        if "filters" not in args.skip:
            root = temp_dir("filters")
            make_repo(root / "ws")
            db = root / "big.db"
            t = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "benchmarks" / "make_audit_db.py"),
                    str(db),
                    "--workspace",
                    str(root / "ws"),
                    "-n",
                    str(args.records),
                ],
                check=True,
                env=env_for(root, None),
                cwd=ROOT / "benchmarks",
            )
            print(f"SQLite database of {args.records:,} records in {time.perf_counter() - t:.0f} s")
            url = cluster.fresh_database(migrated=False)
            from engine.storage.transfer import copy_sqlite_to_postgres

            t = time.perf_counter()
            asyncio.run(copy_sqlite_to_postgres(db, url, db, None))
            print(f"copied to PostgreSQL (db migrate) in {time.perf_counter() - t:.0f} s")
            with cluster.admin() as admin:
                admin.execute("CHECKPOINT")
            both = {
                backend: asyncio.run(
                    filters(
                        db, root / "ws", url if backend == "postgresql" else None, args.filter_runs
                    )
                )
                for backend in ("sqlite", "postgresql")
            }
            for name in both["sqlite"]:
                s, p = both["sqlite"][name], both["postgresql"][name]
                print(f"filter {name}: sqlite {stats_ms(s)}; postgresql {stats_ms(p)}")
    finally:
        cluster.drop_all()
        cluster.stop()


if __name__ == "__main__":
    main()
