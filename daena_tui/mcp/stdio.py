"""The stdio transport of `daena mcp serve`, on the event loop's own pipes.

The SDK's `stdio_server` reads each line in a worker thread and writes and flushes each
answer in two more (anyio's wrapped files): three hand-offs between threads per call, each
a wake-up the scheduler may delay on a loaded machine. Here the loop reads and writes the
pipes itself (non-blocking, flow-controlled), and the streams `Server.run` takes are read
and written directly: no thread and no extra task per message.

What the SDK's transport promises is kept: while serving, fd 0 is the null device and fd 1
is stderr, so a child process (an upstream server, git) or a stray print can never write
into the protocol or read the client's messages; both are restored at the end. A line that
is not JSON-RPC reaches the server as an exception, as with the SDK (it answers or logs it
and keeps serving). Descriptors the loop cannot watch (a regular file as stdin) fall back
to the SDK's transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import stat
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import anyio
import mcp_types as types
from mcp.shared.message import SessionMessage

MAX_LINE_BYTES = 64 * 1024 * 1024
"""A message longer than this is dropped (with an error to the server), not buffered."""
_WRITE_LIMIT = 256 * 1024
"""Bytes buffered for the client before senders wait for the pipe (flow control)."""


def _pollable(fd: int) -> bool:
    """Whether the event loop can watch this descriptor (a pipe, a socket or a terminal)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


class _Reader(asyncio.Protocol):
    """Bytes from the client, cut into lines; parsed when the server asks for one."""

    def __init__(self) -> None:
        self.lines: deque[bytes | Exception] = deque()
        self._partial = bytearray()
        self._dropping = False
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._transport: asyncio.ReadTransport | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        start = 0
        while (end := data.find(b"\n", start)) != -1:
            if self._dropping:
                self._dropping = False
            else:
                self._partial += data[start:end]
                self.lines.append(bytes(self._partial))
            self._partial.clear()
            start = end + 1
        if not self._dropping:
            self._partial += data[start:]
            if len(self._partial) > MAX_LINE_BYTES:
                self._partial.clear()
                self._dropping = True  # until the next newline
                self.lines.append(ValueError(f"a message over {MAX_LINE_BYTES} bytes, dropped"))
        if self._transport is not None and len(self.lines) > 64 and not self._paused:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_line(self) -> bytes | Exception:
        while not self.lines:
            if self._eof:
                if self._partial.strip() and not self._dropping:  # a last line without "\n"
                    last = bytes(self._partial)
                    self._partial.clear()
                    return last
                raise anyio.EndOfStream
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self.lines.popleft()
        if self._paused and len(self.lines) <= 16 and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return item


class _Writer(asyncio.Protocol):
    """The pipe to the client: writes never block the loop; a full pipe pauses senders."""

    def __init__(self) -> None:
        self._resumed: asyncio.Future[None] | None = None
        self.closed = False

    def pause_writing(self) -> None:
        self._resumed = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)
        self._resumed = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.resume_writing()

    async def drained(self) -> None:
        if self._resumed is not None:
            await asyncio.shield(self._resumed)


class ReadStream:
    """What `Server.run` reads: the client's messages, or the exception a bad line gave."""

    def __init__(self, reader: _Reader) -> None:
        self._reader = reader

    async def receive(self) -> SessionMessage | Exception:
        line = await self._reader.next_line()
        if isinstance(line, Exception):
            return line
        try:
            text = line.decode("utf-8", errors="replace")
            return SessionMessage(types.jsonrpc_message_adapter.validate_json(text, by_name=False))
        except Exception as exc:  # answered or logged by the server, which keeps serving
            return exc

    async def aclose(self) -> None:
        return None

    def __aiter__(self) -> ReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> ReadStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class WriteStream:
    """What `Server.run` writes: each message one line on the pipe, in the order sent."""

    def __init__(self, transport: asyncio.WriteTransport, writer: _Writer) -> None:
        self._transport = transport
        self._writer = writer

    async def send(self, item: SessionMessage) -> None:
        if self._writer.closed or self._transport.is_closing():
            raise anyio.BrokenResourceError
        data = item.message.model_dump_json(by_alias=True, exclude_unset=True)
        self._transport.write(data.encode() + b"\n")
        await self._writer.drained()

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> WriteStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


def _claim(fd: int, diversion: int) -> int:
    """A private duplicate of `fd` (above the standard range, closed on exec), and `fd`
    itself pointed at `diversion`."""
    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.dup2(diversion, fd)
    return private


@contextlib.asynccontextmanager
async def pipe_stdio() -> AsyncIterator[tuple[ReadStream, WriteStream] | tuple[Any, Any]]:
    """The (read, write) streams of the process's stdin and stdout, for `Server.run`."""
    if not (_pollable(0) and _pollable(1)):
        from mcp.server.stdio import stdio_server

        async with stdio_server() as streams:
            yield streams
        return
    loop = asyncio.get_running_loop()
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        private_in = _claim(0, null)
    finally:
        os.close(null)
    private_out = _claim(1, 2)
    reader, writer = _Reader(), _Writer()
    read_transport, _ = await loop.connect_read_pipe(
        lambda: reader, os.fdopen(private_in, "rb", buffering=0)
    )
    try:
        write_transport, _ = await loop.connect_write_pipe(
            lambda: writer, os.fdopen(private_out, "wb", buffering=0)
        )
    except BaseException:
        read_transport.close()
        raise
    write_transport.set_write_buffer_limits(high=_WRITE_LIMIT)
    try:
        yield ReadStream(reader), WriteStream(write_transport, writer)
    finally:
        with anyio.CancelScope(shield=True):
            for _ in range(500):  # the last answers reach the client (bounded: 5 s)
                if writer.closed or not write_transport.get_write_buffer_size():
                    break
                await asyncio.sleep(0.01)
        for fd, private in ((0, private_in), (1, private_out)):
            with contextlib.suppress(OSError):  # the wire back where it was
                os.dup2(private, fd)
                os.set_blocking(fd, True)
        write_transport.close()
        read_transport.close()
