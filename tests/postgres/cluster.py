"""A throw-away PostgreSQL cluster for tests and benchmarks: `initdb` in a temp dir, run by
an unprivileged user when started as root, socket in the temp dir, a free TCP port on
loopback, stopped (and removed) at the end, or by its watchdog (tests/postgres/watchdog.py)
when the process that started it dies without stopping it. Or an existing server named by
`DAENA_TEST_PG_URL` (an account allowed to CREATE DATABASE).

Each test gets a fresh database copied from a migrated template (`CREATE DATABASE …
TEMPLATE`), a few tens of milliseconds instead of a migration per test.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ADMIN = "daena_admin"
TEMPLATE = "daena_template"


def pg_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    # Debian keeps the server's programs off PATH, one directory per major version
    found_dirs = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]
    versions = [d for d in found_dirs if d.parent.name.isdigit()]
    return max(versions, key=lambda d: int(d.parent.name), default=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class Cluster:
    """A PostgreSQL server for tests: a throw-away cluster, or `DAENA_TEST_PG_URL`."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.dir: Path | None = None
        self.port = 0
        self.admin_url = ""
        self._owner: tuple[int, int] | None = None
        self._counter = itertools.count(1)
        self._prefix = "daena_t" + uuid.uuid4().hex[:8]
        self._template_ready = False
        self.watchdog_pid: int | None = None

    # -- starting and stopping -----------------------------------------------------------

    def start(self) -> Cluster:
        external = os.environ.get("DAENA_TEST_PG_URL")
        if external:
            self.admin_url = external
            return self
        bindir = pg_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (no pg_ctl)")
        self.dir = Path(tempfile.mkdtemp(prefix="daena-pg-"))
        user = None
        if os.geteuid() == 0:  # the server refuses to run as root
            entry = pwd.getpwnam("nobody")
            self._owner = (entry.pw_uid, entry.pw_gid)
            os.chown(self.dir, *self._owner)
            user = entry.pw_uid
        self.port = free_port()
        data = self.dir / "data"
        self._watch(bindir, data, user)  # from here on, the dir is never left behind
        self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                ADMIN,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            user,
        )
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.dir}",
            "-c max_connections=200",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(self.dir / "log"),
                "-w",
                "-t",
                "60",
                "-o",
                " ".join(options),
                "start",
            ],
            user,
        )
        self.admin_url = f"postgresql://{ADMIN}@127.0.0.1:{self.port}/postgres"
        return self

    def _watch(self, bindir: Path, data: Path, user: int | None) -> None:
        """The watchdog that stops this cluster if this process dies first (a signal)."""
        assert self.dir is not None
        argv = [sys.executable, str(Path(__file__).with_name("watchdog.py")), str(os.getpid())]
        argv += [str(bindir / "pg_ctl"), str(data), str(self.dir)]
        if user is not None:
            argv.append(str(user))
        started = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
        self.watchdog_pid = int(started.stdout.split()[0])  # a daemon, not our child

    def _run(self, argv: list[str], user: int | None) -> None:
        done = subprocess.run(
            argv, user=user, capture_output=True, text=True, timeout=120, cwd=self.dir
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}")

    def pg_ctl(self, action: str, *extra: str) -> None:
        """Stop, start or restart the throw-away cluster (fault tests)."""
        assert self.dir is not None, "an external server is not ours to stop"
        bindir = pg_bin()
        assert bindir is not None
        argv = [str(bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-w", "-t", "60"]
        if action in ("start", "restart"):
            options = [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.dir}",
                "-c max_connections=200",
            ]
            if not self.durable:
                options += ["-c fsync=off", "-c synchronous_commit=off"]
            argv += ["-l", str(self.dir / "log"), "-o", " ".join(options)]
        self._run([*argv, *extra, action], self._owner[0] if self._owner else None)

    def stop(self) -> None:
        if self.dir is None:
            return
        with contextlib.suppress(Exception):
            self.pg_ctl("stop", "-m", "fast")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        if self.watchdog_pid is not None:  # nothing left for it to do
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.watchdog_pid, signal.SIGTERM)
            self.watchdog_pid = None

    # -- databases --------------------------------------------------------------------------

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_url, autocommit=True)

    def _ensure_template(self) -> None:
        """A database migrated to the current schema, copied for each test."""
        if self._template_ready:
            return
        import asyncio

        from engine.events import EventBus
        from engine.storage.postgres import PostgresDatabase

        name = f"{self._prefix}_{TEMPLATE}"
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')

        async def migrate() -> None:
            key_dir = Path(tempfile.mkdtemp(prefix="daena-pg-template-"))
            try:
                db = await PostgresDatabase.connect(
                    with_database(self.admin_url, name), key_dir / "t.db", EventBus()
                )
                await db.close()
            finally:
                shutil.rmtree(key_dir, ignore_errors=True)

        # in a thread of its own: a caller may be inside an event loop (an async fixture)
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, migrate()).result()
        self._template_ready = True

    def fresh_database(self, *, migrated: bool = True) -> str:
        """A new, empty database (migrated unless told not to); its URL."""
        name = f"{self._prefix}_{next(self._counter)}"
        if migrated:
            self._ensure_template()
        template = f"{self._prefix}_{TEMPLATE}" if migrated else "template0"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return with_database(self.admin_url, name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with contextlib.suppress(psycopg.Error), self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all(self) -> None:
        """Every database this run created (an external server is left as it was)."""
        with contextlib.suppress(psycopg.Error), self.admin() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (self._prefix + "%",)
            ).fetchall()
            for (name,) in rows:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
