"""The API's guard (SPEC §11, §15): Host, Origin, token and body size, before any route.

A pure ASGI middleware, so it sees every request — unknown routes and the OpenAPI document
included — before FastAPI does:

- `Host` must name this server (loopback names, the bind address, the machine's name, or a
  name given with `--allow-host`): a page on another site cannot reach it by DNS rebinding.
- A browser request whose `Origin` is not this server is refused; there is no CORS at all.
- `X-Execution-Token` is compared in constant time (`hmac.compare_digest`). With no
  `EXECUTION_TOKEN` configured every request is refused, unless the app was built with
  `insecure_local=True`, which is only allowed on a loopback bind address. A token in the
  query string is never looked at.
- The body is limited by its `Content-Length` and by counting the bytes actually received.

Operator identity for decisions made through the API is `api:<name>`, where the name is the
`X-Operator` header (sanitised) or `DAENA_OPERATOR`.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_HEADER = "X-Execution-Token"  # noqa: S105 (a header name, not a secret)
OPERATOR_HEADER = "X-Operator"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024  # a patch or a file's content may be large
MAX_OPERATOR_CHARS = 64
_OPERATOR_DROP = re.compile(r"[^A-Za-z0-9._@+-]")


def error_json(status: int, error: str, detail: str) -> JSONResponse:
    """Every error the API gives: `{detail, error}` with the HTTP status."""
    return JSONResponse({"detail": detail, "error": error}, status_code=status)


def normalise_host(host: str) -> str:
    """Lower-case host name without port or trailing dot; IPv6 literals keep brackets."""
    text = host.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[: end + 1] if end != -1 else text
    if text.count(":") > 1:  # a bare IPv6 literal
        return f"[{text}]"
    return text.split(":", 1)[0].rstrip(".")


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    text = host.strip().strip("[]").lower()
    if text == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def allowed_host_names(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host values this server answers to (port ignored)."""
    names = set(LOOPBACK_NAMES)
    names.add(normalise_host(bind_host))
    names.add(normalise_host(socket.gethostname()))
    names.update(normalise_host(name) for name in extra if name.strip())
    names.discard("")
    return frozenset(names)


def sanitise_operator(raw: str | None, default: str) -> str:
    """`api:<name>`: the X-Operator value with unsafe characters dropped, or the default."""
    name = _OPERATOR_DROP.sub("", raw or "")[:MAX_OPERATOR_CHARS]
    return f"api:{name or default}"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class GuardMiddleware:
    """Host, Origin, token and body-size checks (pure ASGI, no buffering)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: frozenset[str],
        token: bytes | None,
        insecure_local: bool,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.token = token
        self.insecure_local = insecure_local
        self.max_body_bytes = max_body_bytes
        self._token_header = TOKEN_HEADER.lower().encode("ascii")

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

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        raw_host = _header(scope, b"host")
        host = normalise_host(raw_host.decode("latin-1")) if raw_host else ""
        if host not in self.allowed_hosts:
            shown = raw_host.decode("latin-1")[:100] if raw_host else "(none)"
            return error_json(
                403,
                "forbidden_host",
                f"Host: {shown!r} is not a name of this server; start it with "
                "--allow-host NAME if it is (other names are refused against DNS rebinding)",
            )
        origin = _header(scope, b"origin")
        if origin is not None and not self._own_origin(origin.decode("latin-1")):
            return error_json(
                403, "forbidden_origin", "Origin: cross-site browser requests are refused (no CORS)"
            )
        if self.token is None:
            if self.insecure_local:
                return None
            return error_json(
                401,
                "unauthorized",
                "EXECUTION_TOKEN is not set on the server, so every request is refused; "
                "set it (and send it as X-Execution-Token) or start with --insecure-local "
                "on a loopback address",
            )
        given = _header(scope, self._token_header)
        if given is None:
            return error_json(401, "unauthorized", f"{TOKEN_HEADER}: header is missing")
        if not hmac.compare_digest(given, self.token):
            return error_json(401, "unauthorized", f"{TOKEN_HEADER}: token is not valid")
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return error_json(400, "bad_request", "Content-Length: must be a whole number")
            if declared > self.max_body_bytes:
                return error_json(
                    413,
                    "payload_too_large",
                    f"body: Content-Length {declared} is over the {self.max_body_bytes}-byte limit",
                )
        return None

    def _own_origin(self, origin: str) -> bool:
        try:
            host = urlsplit(origin).hostname
        except ValueError:
            return False
        return host is not None and normalise_host(host) in self.allowed_hosts

    def _limited(self, receive: Receive) -> Receive:
        """Count streamed bytes too: a chunked body has no Content-Length to check."""
        received = 0
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(
                        413, detail=f"body: more than {limit} bytes received, over the limit"
                    )
            return message

        return limited_receive
