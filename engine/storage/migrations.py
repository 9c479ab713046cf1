"""Numbered schema migrations, tracked with `PRAGMA user_version`.

Append new steps; never edit a released one. Each step runs in one transaction.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: events, execution config, grants, approval requests, audit log
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        origin TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE TABLE exec_config (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        doc TEXT NOT NULL,
        updated_at REAL NOT NULL,
        updated_by TEXT NOT NULL
    );
    CREATE TABLE grants (
        id TEXT PRIMARY KEY,
        tool TEXT NOT NULL,
        args_hash TEXT,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        used_at REAL,
        used_trace_id TEXT
    );
    CREATE TABLE approval_requests (
        id TEXT PRIMARY KEY,
        tool TEXT NOT NULL,
        args TEXT NOT NULL,
        args_hash TEXT NOT NULL,
        requester TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        task_id TEXT,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
        decided_by TEXT,
        decided_at REAL,
        decision_reason TEXT,
        run_status TEXT,
        run_audit_id INTEGER,
        trace_id TEXT
    );
    CREATE INDEX approval_requests_by_status ON approval_requests (status, expires_at);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        tool TEXT,
        args TEXT,
        status TEXT NOT NULL,
        error TEXT,
        duration_ms REAL,
        result_summary TEXT,
        trace_id TEXT,
        task_id TEXT,
        approval_id TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_by_tool ON audit (tool, id);
    CREATE INDEX audit_by_status ON audit (status, id);
    CREATE INDEX audit_by_ts ON audit (ts);
    """,
    # 2: node registry (docs/windows_node.md)
    """
    CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        token TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'unknown',
        latency_ms REAL,
        last_seen REAL,
        last_checked REAL,
        message TEXT,
        version TEXT,
        platform TEXT,
        hostname TEXT,
        workspace_root TEXT,
        tools TEXT
    );
    """,
    # 3: tasks, their steps and artifacts (docs/architecture.md, "Flow (c)")
    """
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        goal TEXT NOT NULL,
        source TEXT NOT NULL,
        variables TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'waiting_approval',
            'completed', 'failed', 'budget_exhausted', 'cancelled', 'interrupted')),
        reason TEXT,
        max_steps INTEGER NOT NULL,
        max_retries INTEGER NOT NULL,
        max_seconds REAL,
        elapsed_sec REAL NOT NULL DEFAULT 0,
        created_by TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        run_started_at REAL,
        owner TEXT,
        owner_pid INTEGER,
        owner_host TEXT,
        heartbeat_at REAL
    );
    CREATE INDEX tasks_by_status ON tasks (status, updated_at);
    CREATE TABLE task_steps (
        task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        tool TEXT NOT NULL,
        args TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        dry_run INTEGER NOT NULL DEFAULT 0,
        retry_on_failure INTEGER NOT NULL DEFAULT 0,
        max_retries INTEGER NOT NULL DEFAULT 0,
        continue_on_failure INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'waiting_approval',
            'succeeded', 'failed', 'interrupted', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        run_status TEXT,
        result_summary TEXT,
        error TEXT,
        started_at REAL,
        finished_at REAL,
        approval_request_id TEXT,
        audit_id INTEGER,
        audit_mark INTEGER,
        PRIMARY KEY (task_id, idx)
    );
    CREATE TABLE task_artifacts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        step_idx INTEGER,
        kind TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX task_artifacts_by_task ON task_artifacts (task_id, id);
    CREATE INDEX audit_by_task ON audit (task_id, id);
    """,
    # 4: substring search over the audit log (see engine/audit_search.py). Existing records
    # are indexed in the background by `AuditLog.index_backlog`, not here.
    """
    CREATE VIRTUAL TABLE audit_search USING fts5(
        args, error, result_summary, tool, actor, trace_id,
        content = 'audit', content_rowid = 'id', tokenize = 'trigram', columnsize = 0
    );
    CREATE TABLE audit_search_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        indexed_through INTEGER NOT NULL
    );
    INSERT INTO audit_search_state VALUES (1, 0);
    """,
    # 5: who runs an approved request, so a run orphaned by a dead process is found
    """
    ALTER TABLE approval_requests ADD COLUMN run_owner_host TEXT;
    ALTER TABLE approval_requests ADD COLUMN run_owner_pid INTEGER;
    """,
    # 6: agent credentials (security promise 5): hashed agent tokens, operator-minted
    """
    CREATE TABLE agent_credentials (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        expires_at REAL,
        revoked_at REAL,
        revoked_by TEXT
    );
    CREATE INDEX agent_credentials_by_name ON agent_credentials (name, revoked_at);
    """,
    # 7: the audit chain's head, so deleting the newest records is detected (promise 7; see
    # engine/audit_head.py). Unsealed (mac NULL) until the first append creates the key.
    """
    CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_id INTEGER NOT NULL,
        last_hash TEXT NOT NULL,
        mac TEXT
    );
    INSERT INTO audit_head (id, last_id, last_hash)
        SELECT 1, COALESCE(MAX(id), 0), COALESCE(
            (SELECT hash FROM audit ORDER BY id DESC LIMIT 1),
            '0000000000000000000000000000000000000000000000000000000000000000'
        ) FROM audit;
    """,
    # 8: run leases (engine/leases.py): which process holds each started run until its
    # outcome is recorded. Rows are written by each connection's temporary trigger (it
    # knows the process); the outcome's record releases the lease here. A task's owner and
    # a lease's also record the owner process's start (engine/liveness.py: pids are reused).
    """
    CREATE TABLE run_leases (
        trace_id TEXT PRIMARY KEY,
        start_id INTEGER NOT NULL,
        owner_host TEXT NOT NULL,
        owner_pid INTEGER NOT NULL,
        owner_started TEXT,
        started_at REAL NOT NULL
    );
    ALTER TABLE tasks ADD COLUMN owner_started TEXT;
    CREATE TRIGGER run_leases_release AFTER INSERT ON audit
    WHEN new.action IN ('run', 'run_interrupted', 'approval_run_interrupted')
    BEGIN
        DELETE FROM run_leases WHERE trace_id = new.trace_id;
    END;
    """,
    # 9: where each grant and request was made on the boot clock (engine/clock.py), so its
    # expiry within one boot does not follow a stepped wall clock. NULL: compare wall time.
    """
    ALTER TABLE grants ADD COLUMN boot_id TEXT;
    ALTER TABLE grants ADD COLUMN created_boot REAL;
    ALTER TABLE approval_requests ADD COLUMN boot_id TEXT;
    ALTER TABLE approval_requests ADD COLUMN created_boot REAL;
    """,
    # 10: the MCP gateway (docs/mcp.md): upstream servers behind the gate, their tools with
    # the definition the operator pinned when enabling one, and the MCP clients' sessions and
    # the requests their calls wait on (orphaned when the client went away).
    """
    CREATE TABLE mcp_servers (
        name TEXT PRIMARY KEY,
        command TEXT,
        url TEXT,
        headers TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE TABLE mcp_upstream_tools (
        server TEXT NOT NULL,
        tool TEXT NOT NULL,
        definition TEXT NOT NULL,
        annotations TEXT NOT NULL DEFAULT '{}',
        risk TEXT NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
        pinned_hash TEXT,
        pinned_definition TEXT,
        changed_definition TEXT,
        discovered_at REAL NOT NULL,
        PRIMARY KEY (server, tool)
    );
    CREATE TABLE mcp_sessions (
        id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        client TEXT NOT NULL,
        transport TEXT NOT NULL,
        pid INTEGER,
        started_at REAL NOT NULL,
        last_seen REAL NOT NULL,
        ended_at REAL,
        calls INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE mcp_waits (
        request_id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('waiting', 'done', 'withdrawn', 'orphaned'))
    );
    """,
    # 11: an upstream MCP server's connection as the process holding it last saw it (state,
    # restarts, last error with the tail of its stderr), for the other processes to show.
    """
    ALTER TABLE mcp_servers ADD COLUMN state TEXT;
    ALTER TABLE mcp_servers ADD COLUMN state_at REAL;
    ALTER TABLE mcp_servers ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE mcp_servers ADD COLUMN last_error TEXT;
    """,
    # 12: start-up independent of history (engine/sweeps.py): the events sweep deletes by
    # time through an index, in bounded batches. The audit chain's verify checkpoint
    # (engine/audit_checkpoint.py): where the last verify that passed ended, sealed with the
    # audit key, so the next one checks only what came after (and a slice of what came before).
    """
    CREATE INDEX events_by_ts ON events (ts);
    CREATE TABLE audit_checkpoint (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_id INTEGER NOT NULL,
        last_hash TEXT NOT NULL,
        first_id INTEGER NOT NULL,
        slice_next INTEGER NOT NULL,
        full_pass_at REAL NOT NULL,
        checked_at REAL NOT NULL,
        mac TEXT NOT NULL
    );
    """,
    # 13: a run lease's heartbeat (engine/leases.py): processes that share a database across
    # hosts (PostgreSQL) renew their leases, so another host can tell a dead owner (its
    # heartbeat expired) from a live one it cannot ask. NULL: never expires (one host).
    """
    ALTER TABLE run_leases ADD COLUMN heartbeat_at REAL;
    """,
    # 14: time windows as exact id bounds at any size (engine/audit_search.py): how far the
    # records' times have been checked to rise with their ids, the newest time seen, and
    # the records whose time is below an earlier one (a clock set back).
    """
    ALTER TABLE audit_search_state ADD COLUMN ordered_through INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE audit_search_state ADD COLUMN max_ts REAL;
    CREATE TABLE audit_clock_steps (id INTEGER PRIMARY KEY);
    """,
    # 15: one run's records, found by its trace (engine/timeline.py: request -> decision ->
    # start -> outcome), without a walk of the whole log.
    """
    CREATE INDEX audit_by_trace ON audit (trace_id, id);
    """,
    # 16: which process holds an MCP session (engine/mcp_sessions.py): its host and its
    # start token (engine/liveness.py), so a `daena mcp serve` that died without ending
    # its sessions (SIGKILL, a crash) is told from a live one, and its waits orphaned.
    """
    ALTER TABLE mcp_sessions ADD COLUMN host TEXT;
    ALTER TABLE mcp_sessions ADD COLUMN process_token TEXT;
    """,
    # 17: the rule that decided each run, refusal and approval request (engine/explain.py),
    # by audit record id, written in the record's own transaction; records written before
    # have none (shown "not recorded").
    """
    CREATE TABLE audit_rules (
        audit_id INTEGER PRIMARY KEY,
        outcome TEXT NOT NULL,
        rule TEXT NOT NULL,
        text TEXT NOT NULL
    );
    """,
    # 18: a `daena mcp serve` session's heartbeat (engine/mcp_sessions.py): renewed by its
    # process, so a process on another host (a shared PostgreSQL database), which cannot
    # ask after that pid, tells a dead server (heartbeat expired) from a live one. NULL:
    # written before, never expires.
    """
    ALTER TABLE mcp_sessions ADD COLUMN heartbeat_at REAL;
    """,
    # 19: a task's records by task id, indexed only where there is one: every other run's
    # append wrote a page of this index for a NULL no query looks up (an audited dry run
    # commits ~11 pages; BENCHMARKS.md figure 16). Lookups are by `task_id = ?`, which the
    # planner knows implies `task_id IS NOT NULL`, so they use it as before (EXPLAIN QUERY
    # PLAN in tests/engine/test_storage.py). Built once from the table (a scan).
    """
    DROP INDEX audit_by_task;
    CREATE INDEX audit_by_task ON audit (task_id, id) WHERE task_id IS NOT NULL;
    """,
]
