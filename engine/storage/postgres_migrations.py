"""The PostgreSQL form of the migrations that translation cannot carry over.

`engine/storage/migrations.py` is the one numbered list; a step's SQLite script becomes
PostgreSQL DDL through `dialect.schema_to_postgres` unless this module gives the step a form
of its own (FTS5, triggers). A new unportable step without one is refused when a PostgreSQL
database is migrated, naming the step, rather than guessed at.
"""

from __future__ import annotations

from engine.audit_search import SEARCHED
from engine.storage.dialect import schema_to_postgres, unportable
from engine.storage.migrations import MIGRATIONS

_TRGM_INDEXES = "\n".join(
    f"CREATE INDEX audit_trgm_{column} ON audit USING gin ({column} gin_trgm_ops);"
    for column in SEARCHED
)

_LEASE_STAMP = """
CREATE OR REPLACE FUNCTION run_leases_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Each connection says which process it is (PostgresDatabase sets daena.lease_*);
    -- a connection that did not say records no lease, as on SQLite without the stamp.
    IF NULLIF(current_setting('daena.lease_host', true), '') IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO run_leases (trace_id, start_id, owner_host, owner_pid, owner_started,
        started_at{hb_col})
    VALUES (NEW.trace_id, NEW.id, current_setting('daena.lease_host'),
        current_setting('daena.lease_pid')::bigint,
        NULLIF(current_setting('daena.lease_started', true), ''), NEW.ts{hb_val})
    ON CONFLICT (trace_id) DO UPDATE SET start_id = excluded.start_id,
        owner_host = excluded.owner_host, owner_pid = excluded.owner_pid,
        owner_started = excluded.owner_started, started_at = excluded.started_at{hb_set};
    RETURN NULL;
END $$;
"""


def lease_heartbeat_stamp() -> str:
    """The stamp function once `run_leases.heartbeat_at` exists (a lease starts fresh)."""
    return _LEASE_STAMP.format(
        hb_col=", heartbeat_at", hb_val=", NEW.ts", hb_set=", heartbeat_at = excluded.heartbeat_at"
    )


POSTGRES_FORMS: dict[int, str] = {
    # 4: the audit search: pg_trgm GIN indexes answer ILIKE '%term%' on each searched
    # column (the same case-insensitive "contains" as SQLite's trigram index); the state
    # row stays so both backends report a watermark (always the newest id here).
    4: f"""
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    {_TRGM_INDEXES}
    CREATE TABLE audit_search_state (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        indexed_through BIGINT NOT NULL
    );
    INSERT INTO audit_search_state VALUES (1, 0);
    """,
    # 8: run leases. SQLite's per-connection TEMP trigger becomes one trigger reading the
    # connection's `daena.lease_*` settings; the outcome's record releases the lease.
    8: """
    CREATE TABLE run_leases (
        trace_id TEXT PRIMARY KEY,
        start_id BIGINT NOT NULL,
        owner_host TEXT NOT NULL,
        owner_pid BIGINT NOT NULL,
        owner_started TEXT,
        started_at DOUBLE PRECISION NOT NULL
    );
    ALTER TABLE tasks ADD COLUMN owner_started TEXT;
    CREATE FUNCTION run_leases_release() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM run_leases WHERE trace_id = NEW.trace_id;
        RETURN NULL;
    END $$;
    CREATE TRIGGER run_leases_release AFTER INSERT ON audit FOR EACH ROW
        WHEN (NEW.action IN ('run', 'run_interrupted', 'approval_run_interrupted'))
        EXECUTE FUNCTION run_leases_release();
    """
    + _LEASE_STAMP.format(hb_col="", hb_val="", hb_set="")
    + """
    CREATE TRIGGER run_leases_stamp AFTER INSERT ON audit FOR EACH ROW
        WHEN (NEW.action = 'run_start' AND NEW.trace_id IS NOT NULL)
        EXECUTE FUNCTION run_leases_stamp();
    """,
    # 13: the lease's heartbeat; a lease starts with one (the stamp function again)
    13: "ALTER TABLE run_leases ADD COLUMN heartbeat_at DOUBLE PRECISION;\n"
    + lease_heartbeat_stamp(),
}


def postgres_migration(number: int) -> str:
    """Step `number` (1-based) as PostgreSQL runs it."""
    own = POSTGRES_FORMS.get(number)
    if own is not None:
        return own
    script = MIGRATIONS[number - 1]
    why = unportable(script)
    if why is not None:
        raise ValueError(
            f"migration {number} uses {why}, which has no PostgreSQL translation: give it a "
            "form in engine/storage/postgres_migrations.py"
        )
    return schema_to_postgres(script)
