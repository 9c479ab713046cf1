"""The API's guard (SPEC §11, §15): Host, Origin, token and body size, before any route.

The checks are the ones the node server makes too (`engine.safety.http_guard.HttpGuard`, a
pure ASGI middleware, so it sees every request — unknown routes and the OpenAPI document
included — before FastAPI does); this module gives the API's rules and wording:

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

import re

from fastapi.responses import JSONResponse

from engine.safety.hosts import is_loopback as is_loopback  # re-exported for `daena serve`
from engine.safety.http_guard import GuardRules

TOKEN_HEADER = "X-Execution-Token"  # noqa: S105 (a header name, not a secret)
OPERATOR_HEADER = "X-Operator"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024  # a patch or a file's content may be large
MAX_OPERATOR_CHARS = 64
_OPERATOR_DROP = re.compile(r"[^A-Za-z0-9._@+-]")
UNCONFIGURED_REFUSAL = (
    "EXECUTION_TOKEN is not set on the server, so every request is refused; "
    "set it (and send it as X-Execution-Token) or start with --insecure-local "
    "on a loopback address"
)


def error_json(status: int, error: str, detail: str) -> JSONResponse:
    """Every error the API gives: `{detail, error}` with the HTTP status."""
    return JSONResponse({"detail": detail, "error": error}, status_code=status)


def sanitise_operator(raw: str | None, default: str) -> str:
    """`api:<name>`: the X-Operator value with unsafe characters dropped, or the default."""
    name = _OPERATOR_DROP.sub("", raw or "")[:MAX_OPERATOR_CHARS]
    return f"api:{name or default}"


def guard_rules(
    *,
    allowed_hosts: frozenset[str],
    token: bytes | None,
    insecure_local: bool,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> GuardRules:
    """The API's rules for the shared guard (`engine.safety.http_guard.HttpGuard`)."""
    return GuardRules(
        allowed_hosts=allowed_hosts,
        token_header=TOKEN_HEADER,
        token=token,
        no_token_refusal=None if insecure_local else UNCONFIGURED_REFUSAL,
        max_body_bytes=max_body_bytes,
        respond=error_json,
        host_refusal="Host: {host} is not a name of this server; start it with "
        "--allow-host NAME if it is (other names are refused against DNS rebinding)",
        origin_refusal="Origin: cross-site browser requests are refused (no CORS)",
        own_origin_allowed=True,
    )
