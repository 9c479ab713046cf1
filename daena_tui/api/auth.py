"""The API's guard (docs/security.md) and who the caller is (security promise 5).

Two layers before any route:

1. `daena_http.guard.HttpGuard` (shared with the node server): `Host` must name this
   server (loopback names, the bind address, the machine's name, or `--allow-host`), so a
   page on another site cannot reach it by DNS rebinding; a cross-site browser request is
   refused (no CORS at all); the body is limited by its `Content-Length` and by counting
   the bytes actually received.
2. `CallerAuth` (here): `X-Execution-Token` names the caller, and only the header does (a
   token in the query string, a cookie or `Authorization` is never looked at):
   - the operator token (`EXECUTION_TOKEN`, compared in constant time) acts as the operator,
     recorded as `api:<DAENA_OPERATOR>` on everything it does;
   - an agent token (`daena agents token create NAME`, stored hashed, see
     `engine.credentials`) acts as `agent:<NAME>`: it may run tools, ask for approvals and
     read its own requests and results, nothing else (`roles.py`). A revoked or expired
     agent token is 401, and its use is audited.
   With no `EXECUTION_TOKEN` configured only agent tokens are accepted, unless the app was
   built with `insecure_local=True` (loopback only), where a request without a valid agent
   token acts as the operator.

Who decides is never taken from the request: the `X-Operator` header of earlier versions
is ignored (it is accepted so old scripts keep working, and has no effect on any name).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from daena_http.guard import GuardRules
from engine import AuditEntry, CredentialError, EngineError
from engine.credentials import looks_like_agent_token
from engine.protocol import ErrorCode
from engine.safety.hosts import is_loopback as is_loopback  # re-exported for `daena serve`

if TYPE_CHECKING:
    from engine import AgentCredential, Engine

TOKEN_HEADER = "X-Execution-Token"  # noqa: S105 (a header name, not a secret)
OPERATOR_HEADER = "X-Operator"
"""Ignored: the name on a decision comes from the credential, never from a header."""
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024  # a patch or a file's content may be large
UNCONFIGURED_REFUSAL = (
    "EXECUTION_TOKEN is not set on the server, so only agent tokens are accepted; "
    "set it (and send it as X-Execution-Token) or start with --insecure-local "
    "on a loopback address"
)

Role = Literal["operator", "agent", "public"]
COOKIE_NAME = "daena_execution_token"
"""The original's cookie (`POST /api/v1/execution/token-cookie` sets it): read only on
`/api/v1/execution/*` and only when no header is sent. It carries a token exactly as the
header does, so it acts with that token's credential and role, nothing more."""


@dataclass(frozen=True)
class Caller:
    """Who is calling, from the credential alone."""

    role: Role
    identity: str
    """`api:<DAENA_OPERATOR>` for the operator, `agent:<name>` for an agent credential."""
    agent: str | None = None
    """The agent's name (agent credentials only)."""

    @classmethod
    def operator(cls, name: str) -> Caller:
        """The operator token's caller, `api:<DAENA_OPERATOR>`."""
        return cls("operator", f"api:{name}")

    @classmethod
    def of_agent(cls, credential: AgentCredential) -> Caller:
        return cls("agent", credential.identity, credential.name)


def error_json(status: int, error: str, detail: str) -> JSONResponse:
    """Every error the API gives: `{detail, error}` with the HTTP status."""
    return JSONResponse({"detail": detail, "error": error}, status_code=status)


def guard_rules(
    *, allowed_hosts: frozenset[str], max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> GuardRules:
    """The API's rules for the shared guard; the token is `CallerAuth`'s job."""
    return GuardRules(
        allowed_hosts=allowed_hosts,
        token_header=TOKEN_HEADER,
        token=None,
        no_token_refusal=None,
        max_body_bytes=max_body_bytes,
        respond=error_json,
        host_refusal="Host: {host} is not a name of this server; start it with "
        "--allow-host NAME if it is (other names are refused against DNS rebinding)",
        origin_refusal="Origin: cross-site browser requests are refused (no CORS)",
        own_origin_allowed=True,
    )


def cookie_token(scope: Scope) -> bytes | None:
    """The `daena_execution_token` cookie's value, if the request carries one."""
    for key, value in scope["headers"]:
        if key != b"cookie":
            continue
        for part in bytes(value).split(b";"):
            name, sep, token = part.strip().partition(b"=")
            if sep and name == COOKIE_NAME.encode("ascii") and token:
                return token.strip(b'"')
    return None


class CallerAuth:
    """Pure ASGI middleware: identify the caller by its token, or answer 401.

    The caller is put in the request's state (`request.state.caller`); routes read it
    through `state.caller_dep` and `roles.authorize` decides whether it may use the route.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        engine: Callable[[], Engine | None],
        operator: str,
        operator_token: bytes | None,
        insecure_local: bool,
        open_paths: frozenset[str] = frozenset(),
        cookie_prefix: str | None = None,
    ) -> None:
        self.app = app
        self._open_paths = open_paths
        self._cookie_prefix = cookie_prefix
        self._engine = engine
        self._operator = Caller.operator(operator)
        self._operator_token = operator_token
        self._insecure_local = insecure_local
        self._header = TOKEN_HEADER.lower().encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self._open_paths:  # routes with role PUBLIC (roles.authorize)
            await self.app(scope, receive, send)
            return
        outcome = await self._identify(scope)
        if isinstance(outcome, JSONResponse):
            await outcome(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = outcome
        await self.app(scope, receive, send)

    async def _identify(self, scope: Scope) -> Caller | JSONResponse:
        given = next((bytes(v) for k, v in scope["headers"] if k == self._header), None)
        if given is None and self._cookie_prefix and scope["path"].startswith(self._cookie_prefix):
            given = cookie_token(scope)
        expected = self._operator_token
        if expected is not None and given is not None and hmac.compare_digest(given, expected):
            return self._operator
        text = given.decode("latin-1") if given is not None else ""
        if looks_like_agent_token(text):
            eng = self._engine()
            if eng is None:
                detail = "the engine is not open (the app is starting or stopping)"
                return error_json(503, "not_ready", detail)
            return await self._agent(eng, scope, text)
        if expected is None and self._insecure_local:
            return self._operator  # --insecure-local: no operator token to check
        if expected is None:
            return error_json(401, ErrorCode.UNAUTHORIZED, UNCONFIGURED_REFUSAL)
        why = "header is missing" if given is None else "token is not valid"
        return error_json(401, ErrorCode.UNAUTHORIZED, f"{TOKEN_HEADER}: {why}")

    async def _agent(self, eng: Engine, scope: Scope, token: str) -> Caller | JSONResponse:
        try:
            credential = await eng.credentials.verify(token)
        except CredentialError as err:
            if err.credential is not None:  # a real token, revoked or expired: say who tried
                await eng.record(
                    AuditEntry(
                        actor=err.credential.identity,
                        action="api_call",
                        status="refused",
                        args={"method": scope["method"], "path": scope["path"]},
                        error=f"{TOKEN_HEADER}: {err.message}",
                    )
                )
            return error_json(401, ErrorCode.UNAUTHORIZED, f"{TOKEN_HEADER}: {err.message}")
        except EngineError as err:
            return error_json(503, "storage_error", f"credentials cannot be read: {err.message}")
        return Caller.of_agent(credential)
