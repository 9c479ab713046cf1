"""One live MCP client connection to an upstream server, started on demand.

The SDK's transports are anyio context managers that must be entered and left in one task,
so each connection owns a worker task that holds the session open until it is stopped or
the upstream goes away. A broken connection (the process died, a call timed out, garbage
on the wire) is stopped; the next use starts a fresh one and counts a restart. The
upstream's stderr goes to a temporary file whose tail is reported when something fails.

The connection also holds the last pin check's listing (`listed`, see gateway.py): it is
dropped when the upstream announces `notifications/tools/list_changed`, when the session
is replaced, and is trusted for at most PIN_MAX_AGE_SEC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, TextIO, cast

from engine.errors import ToolFailure

START_TIMEOUT_SEC = 20.0
STDERR_TAIL = 2000
FAULT_CHARS = 300

# The SDK logs a line it cannot parse with a traceback, which would reach an operator's
# terminal through logging's last-resort handler; the fault is reported here instead.
for _name in ("mcp.client.stdio", "mcp.client.streamable_http", "mcp.shared.jsonrpc_dispatcher"):
    logging.getLogger(_name).addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Endpoint:
    """How to reach an upstream: an argv (stdio) or a URL (streamable HTTP)."""

    command: tuple[str, ...] = ()
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return self.url if self.url else " ".join(self.command)


class Connection:
    """A session to one upstream; `session()` starts it when it is not running."""

    def __init__(self, name: str, endpoint: Endpoint) -> None:
        self.name = name
        self.endpoint = endpoint
        self.starts = 0
        self.last_error: str | None = None
        self.last_used = 0.0
        self._task: asyncio.Task[None] | None = None
        self._session: Any = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._errlog: TextIO | None = None
        self.listed: Any = None
        """The last pin check's listing on the current session (gateway.py), or None."""
        self.listed_at = 0.0
        self.list_changes = 0
        self._fault: str | None = None
        """How many `notifications/tools/list_changed` the upstream sent (any session)."""

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)

    @property
    def state(self) -> str:
        if self._session is not None:
            return "running"
        return "failed" if self.last_error else "stopped"

    async def session(self) -> Any:
        self.last_used = time.monotonic()
        async with self._lock:
            if self._session is not None and self._task is not None and not self._task.done():
                return self._session
            await self._stop_task()
            self.forget_listing()
            self._fault = None
            self.starts += 1
            self._ready = asyncio.Event()
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name=f"daena-mcp-upstream-{self.name}")
            try:
                await asyncio.wait_for(self._ready.wait(), START_TIMEOUT_SEC)
            except TimeoutError:
                self.last_error = f"did not complete the MCP handshake in {START_TIMEOUT_SEC:g} s"
                await self._stop_task()
            if self._session is None:
                raise ToolFailure(f"upstream {self.name}: {self.failure()}")
            return self._session

    def alive(self) -> bool:
        """Whether the session is up and its peer has not gone away. The SDK marks its
        dispatcher closed on EOF (the process died) before anyone asks it anything; a
        session whose dispatcher does not say so is taken as alive."""
        if self._session is None:
            return False
        dispatcher = getattr(self._session, "_dispatcher", None)
        return not bool(getattr(dispatcher, "_closed", False))

    def forget_listing(self) -> None:
        self.listed = None

    def remember_listing(self, listed: Any, starts: int, changes: int, at: float) -> None:
        """Keep a listing asked for at `at` (monotonic) on session number `starts`, unless
        that session is gone or the upstream announced a change since it was asked for."""
        if starts == self.starts and changes == self.list_changes and self._session is not None:
            self.listed, self.listed_at = listed, at

    async def _on_message(self, message: Any) -> None:
        """The upstream's notifications and transport faults (called by the SDK session).

        A changed tool list drops the pin check's listing at once. Something on the wire
        that is not JSON-RPC is a broken upstream: the connection is closed (its pending
        requests end with "connection closed" instead of waiting for their timeout)."""
        import mcp_types as types

        if isinstance(message, types.ToolListChangedNotification):
            self.list_changes += 1
            self.forget_listing()
        elif isinstance(message, Exception):
            self.forget_listing()
            self._fault = f"sent something that is not JSON-RPC: {message}"[:FAULT_CHARS]
            self.last_error = self._fault
            self._stop.set()

    def failure(self) -> str:
        """The last error and the tail of the upstream's stderr (untrusted text)."""
        message = self.last_error or "the connection closed"
        tail = self.stderr_tail()
        return f"{message}; stderr: {tail}" if tail else message

    def stderr_tail(self) -> str:
        if self._errlog is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self._errlog.flush()
            self._errlog.seek(0, 2)
            size = self._errlog.tell()
            self._errlog.seek(max(0, size - STDERR_TAIL))
            return self._errlog.read().strip()
        return ""

    async def broken(self, why: str) -> None:
        """Forget a connection that failed mid-call; the next use starts a fresh one. A fault
        seen on the wire is the better explanation, so it is kept."""
        self.last_error = self._fault or why
        async with self._lock:
            await self._stop_task()

    async def stop(self) -> None:
        async with self._lock:
            await self._stop_task()

    async def _stop_task(self) -> None:
        task, self._task = self._task, None
        self._session = None
        if task is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), 5.0)
        except (TimeoutError, Exception):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _run(self) -> None:
        from mcp import ClientSession

        try:
            async with AsyncExitStack() as stack:
                read, write = await self._open(stack)
                session = await stack.enter_async_context(
                    ClientSession(read, write, message_handler=self._on_message)
                )
                await session.initialize()
                self._session = session
                self.last_error = None
                self._ready.set()
                await self._stop.wait()
        except Exception as err:  # an upstream's failure is reported, never raised here
            self.last_error = f"{type(err).__name__}: {err}"
        finally:
            self._session = None
            self.forget_listing()
            self._ready.set()

    async def _open(self, stack: AsyncExitStack) -> tuple[Any, Any]:
        if self.endpoint.url:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            http = await stack.enter_async_context(
                create_mcp_http_client(headers=dict(self.endpoint.headers) or None)
            )
            streams = await stack.enter_async_context(
                streamable_http_client(self.endpoint.url, http_client=http)
            )
            return streams[0], streams[1]
        from mcp.client.stdio import StdioServerParameters, stdio_client

        if self._errlog is None:
            # kept for the connection's life (restarts append to it); closed with the process
            self._errlog = cast(
                TextIO,
                tempfile.TemporaryFile(  # noqa: SIM115
                    mode="w+", encoding="utf-8", errors="replace"
                ),
            )
        argv = self.endpoint.command
        # The SDK's default environment (HOME, PATH, USER ...), never this process's secrets.
        params = StdioServerParameters(command=argv[0], args=list(argv[1:]))
        streams = await stack.enter_async_context(stdio_client(params, errlog=self._errlog))
        return streams[0], streams[1]
