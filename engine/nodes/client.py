"""HTTP client for node servers (docs/windows_node.md): health probes and remote tool runs.

`NodeClient` wraps an injected `httpx.AsyncClient` (the engine's, or one with a mock
transport in tests). `probe` never raises for network trouble: it reports `unreachable`,
`unauthorized` or `error` with a sentence an operator can act on. `run_tool` raises the
engine exception matching the node's answer (403 → PolicyError/ConfinementError, 404 →
NotFoundError, 400/413/422 → InputError, 409/504 → ToolFailure) carrying the node's `detail`;
a node that cannot be reached, rejects the token or fails internally raises NodeError.

A node is not trusted to be well-behaved: every exchange has one overall deadline (connect,
headers and every byte of the body; a node trickling a byte at a time cannot stretch it),
an answer larger than its cap is refused while it is read (never buffered whole), and the
text fields of a health answer are clipped before they are stored or shown.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from engine.errors import (
    ConfinementError,
    EngineError,
    InputError,
    NodeError,
    NodeToolTimeout,
    NotFoundError,
    PolicyError,
    ToolFailure,
)
from engine.protocol import (
    HEALTH_PATH,
    RUN_TOOL_PATH,
    TOKEN_HEADER,
    ErrorBody,
    ErrorCode,
    NodeHealth,
    RunToolRequest,
)

if TYPE_CHECKING:
    import httpx  # imported where used: not every engine open needs it (~75 ms)

NodeStatus = Literal["ok", "unreachable", "unauthorized", "error"]
DEFAULT_PROBE_TIMEOUT = 5.0
RUN_TOOL_GRACE_SEC = 10.0
MAX_HEALTH_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # a tool's result; the engine caps what it keeps
MAX_VERSION_CHARS = 64
MAX_FIELD_CHARS = 512  # platform, hostname, workspace root, each tool name
MAX_TOOLS = 256


class AnswerTooLarge(Exception):
    """The node's answer exceeded the cap for its kind."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer too large (over {limit:,} bytes)")


class Deadline(Exception):
    """The whole exchange did not finish in time."""


@dataclass(frozen=True)
class Answer:
    """A node's answer, read whole within the deadline and the size cap."""

    status_code: int
    content: bytes
    reason_phrase: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


@dataclass(frozen=True)
class NodeHealthReport:
    """Outcome of one health probe; the node's own fields are empty unless `status == "ok"`."""

    status: NodeStatus
    url: str
    checked_at: str
    latency_ms: float | None = None
    version: str | None = None
    platform: str | None = None
    hostname: str | None = None
    workspace_root: str | None = None
    tools: tuple[str, ...] = field(default_factory=tuple)
    message: str = ""
    original: bool = False
    """The original system's node: its health says only `{status, workspace_root}`, so
    version, platform and tools are unknown (None / empty), not "none"."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tools"] = list(self.tools)
        return data


class OriginalNodeHealth(BaseModel):
    """The original system's node health answer: `{status: "ok", workspace_root}` only."""

    model_config = ConfigDict(extra="forbid", strict=True)
    status: Literal["ok"]
    workspace_root: str


def _original_health(answer: Any) -> OriginalNodeHealth | None:
    try:
        return OriginalNodeHealth.model_validate(answer)
    except ValidationError:
        return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def base_url(url: str) -> str:
    """The node's URL without a trailing slash; refuses anything but http(s) with a host."""
    import httpx

    text = url.strip().rstrip("/")
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as err:
        raise InputError(f"url: {url!r} is not a valid URL ({err})") from err
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InputError(f"url: {url!r} must be an http:// or https:// URL with a host")
    return text


def _reason(err: BaseException) -> str:
    """A short human cause for a transport error, e.g. `connection refused`."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return "host name not found"
        if isinstance(current, OSError) and current.errno in (
            errno.EHOSTUNREACH,
            errno.ENETUNREACH,
        ):
            return "host unreachable"
        current = current.__cause__ or current.__context__
    text = str(err).strip()
    if "refused" in text.lower():  # some transports only say it in the text
        return "connection refused"
    return text or type(err).__name__


def _headers(token: str | None) -> dict[str, str]:
    if not token:
        return {}
    if not token.isascii():
        raise InputError("token: must be ASCII (it is sent in an HTTP header)")
    return {TOKEN_HEADER: token}


def _error_body(response: Answer) -> ErrorBody:
    try:
        return ErrorBody.model_validate(response.json())
    except (ValueError, ValidationError):
        text = response.text.strip().replace("\n", " ")
        if len(text) > 200:
            text = text[:197] + "..."
        return ErrorBody(
            error="", detail=text or response.reason_phrase, status=response.status_code
        )


class NodeClient:
    """Talks to node servers over the injected httpx client (it never closes that client)."""

    def __init__(
        self,
        http: httpx.AsyncClient | Callable[[], httpx.AsyncClient],
        *,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        # A client, or how to get one: the engine's is made on first use, not at open.
        self._http = http
        self._max_answer = max_answer_bytes

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        deadline: float,
        limit: int,
        **kw: Any,
    ) -> Answer:
        """One request and its whole answer within `deadline` seconds and `limit` bytes;
        raises Deadline, AnswerTooLarge or an httpx error."""
        import httpx

        http = self._http if isinstance(self._http, httpx.AsyncClient) else self._http()
        try:
            async with asyncio.timeout(deadline):
                async with http.stream(
                    method,
                    url,
                    headers={"Accept-Encoding": "identity", **headers},
                    timeout=deadline,
                    follow_redirects=False,
                    **kw,
                ) as response:
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > limit:
                        raise AnswerTooLarge(limit)
                    body = bytearray()
                    async for chunk in response.aiter_bytes():  # decoded: the cap is on that
                        body += chunk
                        if len(body) > limit:
                            raise AnswerTooLarge(limit)
        except TimeoutError as err:
            raise Deadline from err
        except httpx.TimeoutException as err:
            raise Deadline from err
        return Answer(response.status_code, bytes(body), response.reason_phrase)

    async def probe(
        self,
        url: str,
        token: str | None,
        timeout: float = DEFAULT_PROBE_TIMEOUT,  # noqa: ASYNC109 (passed to httpx per request)
    ) -> NodeHealthReport:
        """Check a node's health. Never raises for bad URLs, network problems or bad answers."""
        import httpx

        checked_at = _now()

        def report(status: NodeStatus, message: str, **extra: Any) -> NodeHealthReport:
            return NodeHealthReport(
                status=status, url=url, checked_at=checked_at, message=message, **extra
            )

        try:
            base = base_url(url)
            headers = _headers(token)
        except InputError as err:
            return report("error", err.message)
        started = time.perf_counter()
        try:
            response = await self._exchange(
                "GET", base + HEALTH_PATH, headers=headers, deadline=timeout, limit=MAX_HEALTH_BYTES
            )
        except Deadline:
            return report("unreachable", f"no answer from {base} within {timeout:g}s")
        except AnswerTooLarge as err:
            return report("error", f"{base} is not a Daena node (health {err})")
        except (httpx.ConnectError, httpx.NetworkError) as err:
            return report("unreachable", f"cannot connect to {base}: {_reason(err)}")
        except httpx.HTTPError as err:
            return report("error", f"bad answer from {base}: {_reason(err)}")
        latency = round((time.perf_counter() - started) * 1000, 3)
        if response.status_code == 401:
            detail = _error_body(response).detail
            return report(
                "unauthorized",
                f"{base} rejected the token ({detail}); set the same WINDOWS_NODE_TOKEN "
                "on the node and in the engine",
                latency_ms=latency,
            )
        if response.status_code != 200:
            detail = _error_body(response).detail
            return report(
                "error",
                f"{base} answered HTTP {response.status_code}: {detail}",
                latency_ms=latency,
            )
        try:
            answer = response.json()
            health = NodeHealth.model_validate(answer)
        except (ValueError, ValidationError) as err:
            original = _original_health(answer) if isinstance(err, ValidationError) else None
            if original is not None:
                return report(
                    "ok",
                    f"original Daena node (version and tools unknown) answered in {latency:.0f} ms",
                    latency_ms=latency,
                    workspace_root=clip(original.workspace_root, MAX_FIELD_CHARS),
                    original=True,
                )
            first = err.errors()[0]["msg"] if isinstance(err, ValidationError) else "not JSON"
            return report(
                "error",
                f"{base} is not a Daena node (bad health answer: {first})",
                latency_ms=latency,
            )
        return report(
            "ok",
            f"{clip(health.hostname, MAX_FIELD_CHARS)} ({clip(health.platform, MAX_FIELD_CHARS)})"
            f" answered in {latency:.0f} ms",
            latency_ms=latency,
            version=clip(health.version, MAX_VERSION_CHARS),
            platform=clip(health.platform, MAX_FIELD_CHARS),
            hostname=clip(health.hostname, MAX_FIELD_CHARS),
            workspace_root=clip(health.workspace_root, MAX_FIELD_CHARS),
            tools=tuple(clip(t, MAX_FIELD_CHARS) for t in health.tools[:MAX_TOOLS]),
        )

    async def run_tool(
        self,
        url: str,
        token: str | None,
        tool_name: str,
        args: dict[str, Any],
        timeout: float | None = None,  # noqa: ASYNC109 (passed to httpx per request)
    ) -> dict[str, Any]:
        """Run `tool_name` on the node and return its result dict.

        `timeout` is the deadline of the whole HTTP exchange; by default the args'
        `timeout_sec` (or 30 s) plus a grace period, so the node's own timeout answer (504)
        arrives first. An answer over `max_answer_bytes` is refused.
        """
        import httpx

        base = base_url(url)
        headers = _headers(token)
        if timeout is None:
            requested = args.get("timeout_sec", 30.0)
            limit = requested if isinstance(requested, int | float) and requested > 0 else 30.0
            timeout = float(limit) + RUN_TOOL_GRACE_SEC
        body = RunToolRequest(tool_name=tool_name, args=args).model_dump()
        try:
            response = await self._exchange(
                "POST",
                base + RUN_TOOL_PATH,
                json=body,
                headers=headers,
                deadline=timeout,
                limit=self._max_answer,
            )
        except Deadline as err:
            raise NodeError(f"node {base}: no answer to {tool_name} within {timeout:g}s") from err
        except AnswerTooLarge as err:
            raise NodeError(f"node {base}: {tool_name}: {err}") from err
        except (httpx.ConnectError, httpx.NetworkError) as err:
            raise NodeError(f"node {base}: cannot connect: {_reason(err)}") from err
        except httpx.HTTPError as err:
            raise NodeError(f"node {base}: bad answer: {_reason(err)}") from err
        if response.status_code == 200:
            try:
                data = response.json()
            except ValueError as err:
                raise NodeError(f"node {base}: {tool_name} answered with invalid JSON") from err
            if not isinstance(data, dict):
                raise NodeError(f"node {base}: {tool_name} answered with a non-object result")
            return data
        raise error_from_response(base, tool_name, response)


def error_from_response(base: str, tool_name: str, response: Answer) -> EngineError:
    """The engine exception for a node's error answer, carrying the node's `detail`."""
    body = _error_body(response)
    status = response.status_code
    detail = f"{body.detail} (node {base})"
    if status == 401:
        return NodeError(
            f"node {base} rejected the token ({body.detail}); set the same WINDOWS_NODE_TOKEN "
            "on the node and in the engine"
        )
    if status == 403 and body.error == ErrorCode.OUTSIDE_WORKSPACE:
        return ConfinementError(detail)
    if status == 403 and body.error in (ErrorCode.FORBIDDEN_HOST, ErrorCode.FORBIDDEN_ORIGIN):
        return NodeError(f"node {base} refused the request: {body.detail}")
    if status == 403:
        return PolicyError(detail)
    if status == 404 and body.error == ErrorCode.NOT_FOUND:
        return NotFoundError(detail)
    if status == 504:
        return NodeToolTimeout(detail, body.result)
    if status == 409:
        return ToolFailure(detail)
    if status in (400, 413, 422):
        return InputError(detail)
    return NodeError(f"node {base}: {tool_name} failed with HTTP {status}: {body.detail}")
