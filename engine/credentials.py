"""Agent credentials (security promise 5): tokens an operator mints for an agent.

An agent token lets its holder act as `agent:<name>` through the HTTP API (and later MCP):
run tools, ask for approvals, read its own requests and results — never decide, mint grants
or change policy (the API's roles, `daena_tui/api/roles.py`; the engine refuses an agent
identity as a decider too, `approvals.decider_refusal`).

A token is `daena_agent_<id>_<secret>`, shown once when it is minted. Only the sha256 of the
whole token is stored; `verify` finds the row by its (public) id and compares the hashes in
constant time, so neither the database nor timing gives the token away. A credential ends
when it expires or is revoked; both are checked on every use.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from engine.approvals import AGENT_PREFIX, is_agent_identity
from engine.audit import AuditEntry, AuditLog
from engine.clock import SYSTEM, Clock
from engine.errors import CredentialError, InputError, NotFoundError, PolicyError
from engine.storage.database import Database

TOKEN_PREFIX = "daena_agent_"  # noqa: S105 (the public prefix of a token)
ID_HEX = 16
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")
DURATION = re.compile(r"^(\d{1,6})([mhdw])$")
UNIT_SEC = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_LIFETIME_SEC = 5 * 366 * 86400
DEFAULT_EXPIRES = "30d"
_DUMMY_HASH = hashlib.sha256(b"no such credential").hexdigest()

CredentialState = Literal["active", "expired", "revoked"]


@dataclass(frozen=True)
class AgentCredential:
    id: str
    name: str
    created_at: float
    created_by: str
    expires_at: float | None
    revoked_at: float | None
    revoked_by: str | None

    @property
    def identity(self) -> str:
        """Who this credential acts as: the requester and audit actor of its calls."""
        return f"{AGENT_PREFIX}{self.name}"

    def state(self, now: float | None = None) -> CredentialState:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or time.time()):
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        """Everything but the token's hash (which is never shown)."""
        return {
            "id": self.id,
            "name": self.name,
            "identity": self.identity,
            "state": self.state(),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
        }

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AgentCredential:
        data = dict(row)
        data.pop("token_hash", None)
        return cls(**data)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_agent_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX)


def token_id(token: str) -> str | None:
    """The credential id inside a well-formed token, else None."""
    rest = token.removeprefix(TOKEN_PREFIX)
    if rest == token or len(rest) < ID_HEX + 2 or rest[ID_HEX] != "_":
        return None
    ident = rest[:ID_HEX]
    return ident if re.fullmatch(r"[0-9a-f]+", ident) else None


def check_name(name: str) -> str:
    if not NAME_RULE.fullmatch(name):
        raise InputError(
            "name: 1-48 characters, letters, digits, '_', '.' or '-', starting with a letter "
            f"or digit (got {name[:60]!r})"
        )
    return name


def parse_expiry(raw: str, now: float | None = None) -> float | None:
    """`never`, a duration (`30m`, `12h`, `30d`, `2w`) or an ISO date/time (UTC unless it
    says otherwise) → the expiry time, or None for never."""
    now = time.time() if now is None else now
    text = raw.strip().lower()
    if text == "never":
        return None
    match = DURATION.fullmatch(text)
    if match:
        at = now + int(match.group(1)) * UNIT_SEC[match.group(2)]
    else:
        try:
            when = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise InputError(
                f"expires: {raw[:40]!r} is not 'never', a duration like 30m, 12h, 30d, 2w, "
                "or an ISO date such as 2027-01-31"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        at = when.timestamp()
    if at <= now:
        raise InputError(f"expires: {raw[:40]!r} is not in the future")
    if at - now > MAX_LIFETIME_SEC:
        raise InputError("expires: at most 5 years ahead (or 'never')")
    return at


class AgentCredentials:
    """Mint, list, revoke and verify agent tokens (stored hashed)."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock = SYSTEM) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock  # expiry is wall-clock time (a token's expiry is a date)

    async def mint(
        self, name: str, *, operator: str, expires_at: float | None
    ) -> tuple[AgentCredential, str]:
        """A new token for agent `name`: (the credential, the token — shown once, never
        stored). One active token per name: revoke the old one first."""
        check_name(name)
        if is_agent_identity(operator):
            raise PolicyError(f"operator: {operator} is an agent and cannot mint credentials")
        ident = secrets.token_hex(ID_HEX // 2)
        token = f"{TOKEN_PREFIX}{ident}_{secrets.token_urlsafe(32)}"
        now = self._clock.time()
        credential = AgentCredential(ident, name, now, operator, expires_at, None, None)
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT * FROM agent_credentials WHERE name = ? AND revoked_at IS NULL", (name,)
            )
            if any(AgentCredential.from_row(r).state(now) == "active" for r in rows):
                raise InputError(
                    f"name: agent {name} already has an active token; "
                    f"revoke it first (daena agents revoke {name})"
                )
            await tx.execute(
                "INSERT INTO agent_credentials (id, name, token_hash, created_at, created_by, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (ident, name, token_hash(token), now, operator, expires_at),
            )
            await self._audit.append(
                tx,
                AuditEntry(
                    actor=operator,
                    action="agent_token_create",
                    status="ok",
                    args={"name": name, "id": ident, "expires_at": expires_at},
                    result_summary=f"token for {credential.identity} minted",
                ),
            )
        return credential, token

    async def list(self) -> list[AgentCredential]:
        rows = await self._db.fetchall(
            "SELECT * FROM agent_credentials ORDER BY name, created_at DESC"
        )
        return [AgentCredential.from_row(r) for r in rows]

    async def revoke(self, name: str, *, operator: str) -> builtins.list[AgentCredential]:
        """Revoke every unrevoked token of agent `name` (audited); NotFoundError if none."""
        check_name(name)
        now = self._clock.time()
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT * FROM agent_credentials WHERE name = ? AND revoked_at IS NULL", (name,)
            )
            if not rows:
                raise NotFoundError(f"name: agent {name} has no token to revoke")
            await tx.execute(
                "UPDATE agent_credentials SET revoked_at = ?, revoked_by = ? "
                "WHERE name = ? AND revoked_at IS NULL",
                (now, operator, name),
            )
            ids = [str(r["id"]) for r in rows]
            await self._audit.append(
                tx,
                AuditEntry(
                    actor=operator,
                    action="agent_token_revoke",
                    status="ok",
                    args={"name": name, "ids": ids},
                    result_summary=f"{len(ids)} token(s) of {AGENT_PREFIX}{name} revoked",
                ),
            )
            after = await tx.fetchall(
                f"SELECT * FROM agent_credentials WHERE id IN ({','.join('?' * len(ids))})",
                tuple(ids),
            )
        return [AgentCredential.from_row(r) for r in after]

    async def verify(self, token: str) -> AgentCredential:
        """The active credential `token` belongs to, or CredentialError saying why not
        (with the credential when the token was real but revoked or expired)."""
        ident = token_id(token)
        row = None
        if ident is not None:
            row = await self._db.fetchone_committed(  # not queued behind this process's writes
                "SELECT * FROM agent_credentials WHERE id = ?", (ident,)
            )
        stored = str(row["token_hash"]) if row is not None else _DUMMY_HASH
        if not hmac.compare_digest(token_hash(token), stored) or row is None:
            raise CredentialError("token is not valid")
        credential = AgentCredential.from_row(row)
        state = credential.state(self._clock.time())
        if state != "active":
            raise CredentialError(f"the token of {credential.identity} is {state}", credential)
        return credential


__all__ = [
    "DEFAULT_EXPIRES",
    "AgentCredential",
    "AgentCredentials",
    "parse_expiry",
]
