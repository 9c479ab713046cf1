"""`daena serve --workers N`: N server processes on one listening socket and one database.

One Python process serves one request at a time on one core, so past a few clients the API
stops growing. Each worker here is a fresh process (`spawn`, never `fork`: no engine
thread, SQLite connection or lock is copied) that opens its own engine on the same database
and accepts from the same listening socket; the kernel gives each new connection to one of
them. What must stay single holds across processes exactly as it does between the console,
the CLI and a server today:

- one audit chain: every append reads the chain head inside its `BEGIN IMMEDIATE`
  transaction, so SQLite's write lock orders the appends of every process (a head another
  process wrote is checked by its seal, `engine.audit_head`);
- single-use grants and decisions: each is claimed by a conditional UPDATE;
- runs a worker leaves behind when it dies are recovered by the others (`engine.recovery`).

The parent only supervises. SIGTERM or SIGINT: each worker gets SIGTERM and shuts down as
uvicorn does (in-flight requests finish, `timeout_graceful_shutdown`), and one still up
after the grace is killed. A worker that exits on its own stops the others (exit 1: a
server that silently serves with fewer workers hides a fault). Each worker asks the kernel
for SIGTERM when its parent dies (Linux `PR_SET_PDEATHSIG`), so even a parent killed with
SIGKILL leaves no worker behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from engine import Settings

MAX_WORKERS = 64
GRACE_SEC = 15.0
"""How long a stopping worker may take (uvicorn's own graceful timeout is 10 s)."""
READY_SEC = 120.0
"""How long a worker may take to open its engine and start listening."""
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, sent to it once when it starts (pickled, never in argv)."""

    settings: Settings
    insecure_local: bool
    host: str
    url: str
    allowed_hosts: list[str] = field(default_factory=list)
    log_level: str = "info"


def workers_count(raw: str) -> int:
    """argparse type for `--workers`: a whole number 1..64."""
    import argparse

    try:
        count = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if not 1 <= count <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{count} is not between 1 and {MAX_WORKERS}")
    return count


def _die_with_parent(parent: int) -> None:
    """SIGTERM this process when the parent dies (Linux); exit now if it already has."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def worker_main(
    spec: WorkerSpec, sock: socket.socket, index: int, parent: int, ready: Event
) -> None:
    """A worker process: its own engine, the shared socket, uvicorn until SIGTERM."""
    _die_with_parent(parent)
    try:
        code = asyncio.run(_serve(spec, sock, index, ready))
    except KeyboardInterrupt:
        code = 0
    except Exception as err:  # one line for the operator, never a traceback
        from engine import EngineError

        shown = f"{err.title}: {err.message}" if isinstance(err, EngineError) else repr(err)
        sys.stderr.write(f"daena: worker {index} (pid {os.getpid()}) stopped: {shown}\n")
        code = 1
    sys.exit(code)


async def _serve(spec: WorkerSpec, sock: socket.socket, index: int, ready: Event) -> int:
    import uvicorn

    import engine
    from daena_tui.api import create_api

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            ready.set()

    # One worker drains an old database's search-index backlog; the others only serve.
    async with engine.Engine.open(spec.settings, index_audit=index == 0) as eng:
        app = create_api(
            eng,
            insecure_local=spec.insecure_local,
            bind_host=spec.host,
            allowed_hosts=spec.allowed_hosts,
        )
        engine.refuse_own_service(spec.url, db_path=eng.settings.daena_db_path)
        config = uvicorn.Config(
            app,
            log_level=spec.log_level,
            lifespan="on",
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=10,
        )
        await _Server(config).serve(sockets=[sock])
    return 0


class Supervisor:
    """Start N workers on `sock`, wait for a stop signal or a worker's exit, stop them all."""

    def __init__(self, spec: WorkerSpec, sock: socket.socket, count: int) -> None:
        self._spec = spec
        self._sock = sock
        self._count = count
        self._ctx = multiprocessing.get_context("spawn")
        self.procs: list[BaseProcess] = []

    async def run(self, on_ready: Callable[[], None]) -> int:
        """Serve until SIGTERM/SIGINT (0) or until a worker exits on its own (1);
        `on_ready` is called once every worker is listening."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        ended: asyncio.Queue[BaseProcess] = asyncio.Queue()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        first_end = asyncio.ensure_future(ended.get())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            readies = self._start(loop, ended)
            deadline = time.monotonic() + READY_SEC
            announced = False
            while True:
                done, _ = await asyncio.wait(
                    {first_end, stopping},
                    timeout=None if announced else 0.05,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if stopping in done:
                    return self._stop_all(0)
                if first_end in done:
                    proc = first_end.result()
                    proc.join(5)  # its pipe closes a moment before it can be reaped
                    sys.stderr.write(
                        f"daena: worker pid {proc.pid} exited ({_exit_text(proc.exitcode)}); "
                        "stopping the others\n"
                    )
                    return self._stop_all(1)
                if not announced and all(ready.is_set() for ready in readies):
                    announced = True
                    on_ready()
                elif not announced and time.monotonic() > deadline:
                    sys.stderr.write(f"daena: the workers did not start within {READY_SEC:.0f} s\n")
                    return self._stop_all(1)
        finally:
            first_end.cancel()
            stopping.cancel()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            for proc in self.procs:
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_reader(proc.sentinel)

    def _start(
        self, loop: asyncio.AbstractEventLoop, ended: asyncio.Queue[BaseProcess]
    ) -> list[Event]:
        readies = []
        for index in range(self._count):
            ready = self._ctx.Event()
            proc = self._ctx.Process(
                target=worker_main,
                args=(self._spec, self._sock, index, os.getpid(), ready),
                name=f"daena-serve-worker-{index}",
            )
            proc.start()
            self.procs.append(proc)
            readies.append(ready)
            loop.add_reader(proc.sentinel, _ended, loop, proc, ended)
        return readies

    def _stop_all(self, code: int) -> int:
        for proc in self.procs:
            if proc.exitcode is None and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SEC
        for proc in self.procs:
            proc.join(max(0.0, deadline - time.monotonic()))
        for proc in self.procs:
            if proc.exitcode is None:
                sys.stderr.write(f"daena: worker pid {proc.pid} did not stop in time; killed\n")
                proc.kill()
                proc.join()
                code = 1
        return code


def _ended(
    loop: asyncio.AbstractEventLoop, proc: BaseProcess, queue: asyncio.Queue[BaseProcess]
) -> None:
    with contextlib.suppress(ValueError, OSError):
        loop.remove_reader(proc.sentinel)
    queue.put_nowait(proc)


def _exit_text(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"code {code}"
