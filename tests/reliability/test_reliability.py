"""Reliability (docs/reliability.md): many processes, killed processes, full or read-only disks,
corrupt files. Bounded in time; real processes, real SQLite files."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import Engine, Settings, StorageError
from engine.policy import load_seed
from tests.support.audit_index import assert_search_index_exact

RUNNER = textwrap.dedent(
    """
    import asyncio, sys
    from engine import Engine, load_settings

    async def main(db, ws, n, who):
        settings = load_settings(env_file=None, DAENA_DB_PATH=db, EXECUTION_WORKSPACE_ROOT=ws)
        async with Engine.open(settings) as eng:
            for i in range(n):
                if i % 2:
                    result = await eng.run("git_status", dry_run=True, requester=who)
                else:
                    result = await eng.run("filesystem_read", {"path": "README.md"}, requester=who)
                assert result.ok, result
                print(result.audit_id, result.trace_id, flush=True)  # acknowledged
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
    """
)


def spawn(db: Path, ws: Path, n: int, who: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(db), str(ws), str(n), who],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def final_records(settings: Settings) -> list[sqlite3.Row]:
    async with Engine.open(settings) as eng:
        return await eng.db.fetchall(
            "SELECT id, actor, trace_id, action, status FROM audit "
            "WHERE action IN ('run', 'dry_run', 'run_start')"
        )


def test_four_processes_five_hundred_runs_each(
    settings: Settings, workspace: Path, db_path: Path
) -> None:
    asyncio.run(final_records(settings))  # create and migrate once
    procs = {f"p{n}": spawn(db_path, workspace, 500, f"p{n}") for n in range(4)}
    acked: dict[str, set[str]] = {}
    for who, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        assert "locked" not in err
        acked[who] = {line.split()[1] for line in out.splitlines()}
        assert len(acked[who]) == 500
    rows = asyncio.run(final_records(settings))
    finals = [r for r in rows if r["action"] != "run_start"]
    for who in procs:
        traces = [r["trace_id"] for r in finals if r["actor"] == who]
        assert len(traces) == 500 and set(traces) == acked[who]  # each run audited exactly once
    starts = {r["trace_id"] for r in rows if r["action"] == "run_start"}
    real = {r["trace_id"] for r in finals if r["action"] == "run"}
    assert len(real) == 4 * 250 and starts <= real  # every recorded start has its outcome
    assert _verify(settings).ok
    asyncio.run(_search_index_exact(settings))  # batches indexed by four writers, once each


async def _search_index_exact(settings: Settings) -> None:
    async with Engine.open(settings) as eng:
        await assert_search_index_exact(eng)


def _verify(settings: Settings):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with Engine.open(settings) as eng:
            return await eng.audit.verify()

    return asyncio.run(go())


def test_sigkill_mid_runs_loses_nothing_acknowledged(
    settings: Settings, workspace: Path, db_path: Path
) -> None:
    asyncio.run(final_records(settings))
    proc = spawn(db_path, workspace, 100_000, "victim")
    acked: list[tuple[int, str]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        audit_id, trace = line.split()
        acked.append((int(audit_id), trace))
        if len(acked) >= 150:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    rows = asyncio.run(final_records(settings))
    by_id = {r["id"]: r for r in rows}
    for audit_id, trace in acked:
        assert by_id[audit_id]["trace_id"] == trace
    report = _verify(settings)
    assert report.ok, report

    # the log is still writable and consistent after the crash
    async def more() -> str:
        async with Engine.open(settings) as eng:
            return (await eng.run("git_status")).status

    assert asyncio.run(more()) == "ok"


async def fill_until_full(eng: Engine) -> None:
    """Commit filler rows, smaller and smaller, until SQLite reports the disk full."""
    for size in (4000, 1000, 200, 50, 10):
        try:
            for _ in range(10_000):
                await eng.db.write(
                    lambda stx, n=size: stx.execute(
                        "INSERT INTO events (ts, origin, kind, payload) VALUES (0, 'f', 'f', ?)",
                        ("x" * n,),
                    )
                )
        except StorageError as err:
            assert "full" in err.message


@pytest.mark.parametrize("fault", ["read_only", "disk_full"])
@pytest.mark.no_postgres  # the SQLite database file made unwritable
async def test_unwritable_database_during_a_run_executes_nothing(
    settings: Settings, workspace: Path, fault: str
) -> None:
    async with Engine.open(settings) as eng:
        await eng.update_config(
            {"approval_mode": "auto", "tool_enabled": {"filesystem_write": True}}
        )
        before = await eng.audit.count()
        if fault == "read_only":
            await eng.db._conn.execute("PRAGMA query_only = ON")
        else:
            pages = (await eng.db.fetchone("PRAGMA page_count"))[0]  # type: ignore[index]
            await eng.db._conn.execute(f"PRAGMA max_page_count = {pages + 2}")
            await fill_until_full(eng)
        with pytest.raises(StorageError, match="nothing was executed"):
            await eng.run("filesystem_write", {"path": "should-not-exist.txt", "content": "x"})
        assert not (workspace / "should-not-exist.txt").exists()
        if fault == "read_only":
            await eng.db._conn.execute("PRAGMA query_only = OFF")
        else:
            await eng.db._conn.execute("PRAGMA max_page_count = 1073741823")
        assert await eng.audit.count() == before  # nothing half-written
        await eng.db._conn.execute("DELETE FROM events WHERE origin = 'f'")
        assert (await eng.audit.verify()).ok
        assert (await eng.run("git_status")).status == "ok"


def test_corrupt_seed_file_is_a_clear_error(tmp_path: Path) -> None:
    from engine import ConfigError

    bad = tmp_path / "execution_layer_config.json"
    bad.write_text('{"approval_mode": ')
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_seed(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        load_seed(bad)


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("corrupt_db", "DAENA_DB_PATH"),
        ("db_under_a_file", "DAENA_DB_PATH"),
        ("bad_env_value", "SECURITY_LOCKDOWN_MODE"),
        ("bad_config_file", "DAENA_CONFIG_FILE"),
    ],
)
def test_bad_start_conditions_fail_clearly(
    tmp_path: Path, workspace: Path, setup: str, needle: str
) -> None:
    db = tmp_path / "d.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAENA_", "SECURITY_"))}
    if setup == "corrupt_db":
        db.write_bytes(b"garbage" * 1000)
    elif setup == "db_under_a_file":
        (tmp_path / "plain").write_text("x")
        db = tmp_path / "plain" / "d.db"
    elif setup == "bad_env_value":
        env["SECURITY_LOCKDOWN_MODE"] = "sometimes"
    else:
        (tmp_path / "c.toml").write_text("= broken")
        env["DAENA_CONFIG_FILE"] = str(tmp_path / "c.toml")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "daena_tui",
            "--db",
            str(db),
            "--workspace",
            str(workspace),
            "tools",
        ],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert proc.returncode in (1, 2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr
    assert proc.stdout == ""
