"""The guard both HTTP front ends put before their routes (node server and HTTP API).

A pure ASGI middleware, so it sees every request (unknown routes and documents included)
before the framework does:

- `Host` must be one of the server's names (`hosts.allowed_host_names`): a page on another
  site cannot reach it by DNS rebinding.
- A browser request (an `Origin` header) is refused; there is no CORS. A front end may let
  through a browser on one of its own names.
- The token header is compared in constant time (`hmac.compare_digest`). With no token
  configured, a front end either lets every request through or refuses every one.
- The body is limited by its `Content-Length` and by counting the bytes actually received
  (a chunked body has no length to check).

What differs between the front ends (how an error answer looks, which header carries the
token, the hints naming their settings) is given in `GuardRules`; the checks, their order,
the error codes and the sentences are the same. The module also holds the error sentences
both front ends give for routing and validation errors.

This is the only module of the engine that imports starlette; `engine/__init__.py` must
not import it (the console's `import engine` stays free of web frameworks).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.protocol import ErrorCode
from engine.safety.hosts import normalise_host

ErrorFactory = Callable[[int, str, str], Response]
"""Builds a front end's error answer from (status, stable code, sentence)."""

LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})
"""Where FastAPI says it found a value: the first element of a request error's `loc`."""


@dataclass(frozen=True, kw_only=True)
class GuardRules:
    """What one front end's guard lets through, and how it words a refusal."""

    allowed_hosts: frozenset[str]
    """Normalised Host names this server answers to (`hosts.allowed_host_names`)."""
    token_header: str
    token: bytes | None
    """The expected token; None when none is configured (see `no_token_refusal`)."""
    no_token_refusal: str | None
    """With no token configured: the sentence refusing every request, or None to let every
    request through."""
    max_body_bytes: int
    respond: ErrorFactory
    host_refusal: str
    """The sentence for an unknown Host; `{host}` stands for the header as received."""
    origin_refusal: str
    own_origin_allowed: bool
    """Let a browser through when its `Origin` is the server's own: the scheme, host and
    port the request was sent to (a page on another port of the same host is another
    origin, though the same site, so it would carry the operator's cookie)."""
    limit_hint: str = ""
    """Appended to the body-size sentences, e.g. the setting that raises the limit."""


class HttpGuard:
    """Host, Origin, token and body-size checks, before routing (pure ASGI, no buffering)."""

    def __init__(self, app: ASGIApp, *, rules: GuardRules) -> None:
        self.app = app
        self.rules = rules
        self._token_header = rules.token_header.lower().encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            await send({"type": "websocket.close", "code": 1008})
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, self._limited(receive), send)

    def _refusal(self, scope: Scope) -> Response | None:
        rules = self.rules
        raw_host = _header(scope, b"host")
        host = normalise_host(raw_host.decode("latin-1")) if raw_host else ""
        if host not in rules.allowed_hosts:
            shown = raw_host.decode("latin-1")[:100] if raw_host else "(none)"
            detail = rules.host_refusal.format(host=repr(shown))
            return rules.respond(403, ErrorCode.FORBIDDEN_HOST, detail)
        origin = _header(scope, b"origin")
        if origin is not None and not (
            rules.own_origin_allowed and _same_origin(origin.decode("latin-1"), raw_host, scope)
        ):
            return rules.respond(403, ErrorCode.FORBIDDEN_ORIGIN, rules.origin_refusal)
        token_refusal = self._token_refusal(scope)
        if token_refusal is not None:
            return rules.respond(401, ErrorCode.UNAUTHORIZED, token_refusal)
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                detail = "Content-Length: must be a whole number"
                return rules.respond(400, ErrorCode.BAD_REQUEST, detail)
            if declared > rules.max_body_bytes:
                detail = (
                    f"body: Content-Length {declared} is over the {rules.max_body_bytes}-byte "
                    f"limit{rules.limit_hint}"
                )
                return rules.respond(413, ErrorCode.TOO_LARGE, detail)
        return None

    def _token_refusal(self, scope: Scope) -> str | None:
        """Why the token check fails, or None. Without a configured token the body limit
        below still applies."""
        expected = self.rules.token
        if expected is None:
            return self.rules.no_token_refusal
        given = _header(scope, self._token_header)
        if given is None:
            return f"{self.rules.token_header}: header is missing"
        if not hmac.compare_digest(given, expected):
            return f"{self.rules.token_header}: token is not valid"
        return None

    def _limited(self, receive: Receive) -> Receive:
        """Count streamed bytes too: a chunked body has no Content-Length to check."""
        received = 0
        limit = self.rules.max_body_bytes
        hint = self.rules.limit_hint

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's body read; the HTTPException handler answers.
                    raise HTTPException(
                        413, detail=f"body: more than {limit} bytes received, over the limit{hint}"
                    )
            return message

        return limited_receive


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _same_origin(origin: str, raw_host: bytes | None, scope: Scope) -> bool:
    host = raw_host.decode("latin-1") if raw_host else None
    return same_origin(origin, host, str(scope.get("scheme", "http")))


def same_origin(origin: str, host: str | None, scheme: str) -> bool:
    """True when `origin` is exactly the origin a request was sent to: its `Host` (already
    checked to be one of the server's names) and the connection's scheme, port included
    (a page on another port of the same host is another origin). Also used by `daena web`."""
    try:
        given = urlsplit(origin)
        own = urlsplit(f"{scheme}://{host}") if host else None
        if own is None or given.scheme != scheme or given.path or given.query:
            return False
        ports = (given.port or _DEFAULT_PORTS.get(scheme), own.port or _DEFAULT_PORTS.get(scheme))
    except ValueError:  # a port that is not a number
        return False
    hosts = (given.hostname, own.hostname)
    if hosts[0] is None or hosts[1] is None:
        return False
    return normalise_host(hosts[0]) == normalise_host(hosts[1]) and ports[0] == ports[1]


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def http_error_detail(request: Request, exc: HTTPException, *, no_route: str) -> str:
    """The sentence for an HTTP error: 404 and 405 name the method and the path."""
    if exc.status_code == 404:
        return f"{request.method} {request.url.path}: {no_route}"
    if exc.status_code == 405:
        return f"{request.method} {request.url.path}: method not allowed"
    return exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)


def dotted_field(loc: Sequence[Any]) -> str:
    """`args.command` for `("body", "args", "command")`: the path without where it was."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in LOCATIONS:
        parts = parts[1:]  # where FastAPI found it, not part of the field's name
    return ".".join(parts) if parts else "body"


def top_field(loc: Sequence[Any]) -> str:
    """`args` for `("args", "command")`: only the top-level field, `body` left out."""
    parts = [str(p) for p in loc if p != "body"]
    return parts[0] if parts else "body"


def describe_validation(
    errors: Iterable[Mapping[str, Any]],
    *,
    field_of: Callable[[Sequence[Any]], str] = dotted_field,
    limit: int = 3,
) -> str:
    """`field: rule` for the first few problems, e.g. `limit: Input should be ≥ 1`."""
    parts: list[str] = []
    seen: set[str] = set()
    for problem in errors:
        if problem.get("type") == "json_invalid":
            field = "body"
            message = f"is not valid JSON ({problem.get('ctx', {}).get('error', 'parse error')})"
        else:
            field = field_of(problem.get("loc", ()))
            message = str(problem.get("msg", "is invalid"))
        if field in seen:
            continue  # a union reports once per member; the first message is enough
        seen.add(field)
        parts.append(f"{field}: {message}")
        if len(parts) >= limit:
            break
    return "; ".join(parts) or "body: is invalid"
