"""What an agent may do with the engine (security promise 5): `eng.as_agent(name)`.

    agent = eng.as_agent("daena")
    result = await agent.run("git_status")               # requester: agent:daena
    request = await agent.request("apply_patch", {...})   # waits in the inbox
    mine = await agent.requests()                         # only its own

An `AgentSession` can run tools, put requests into the inbox and read its own requests and
results — and nothing else: there is no approve, deny, grant, config, tool toggle, node or
task method to reach. Every call is attributed to `agent:<name>`, never to a name the caller
chooses; a request it made can never be approved under that name (`approvals.decider_refusal`).
The HTTP API's agent routes use it (and the MCP gateway will). In-process it is a narrow
door, not a sandbox: the boundary against a hostile agent is a separate process holding only
an agent credential (`engine.credentials`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.approvals import AGENT_PREFIX, ApprovalRequest
from engine.audit import AuditFilter, AuditPage
from engine.credentials import check_name
from engine.errors import NotFoundError
from engine.runs import RunRequest, RunResult

if TYPE_CHECKING:
    from engine.engine import Engine, ToolInfo


class AgentSession:
    """Run, request, read-own — as `agent:<name>`."""

    __slots__ = ("_eng", "_name")

    def __init__(self, eng: Engine, name: str) -> None:
        self._eng = eng
        self._name = check_name(name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def identity(self) -> str:
        """`agent:<name>`: the requester and audit actor of everything this session does
        (read-only: a session cannot be renamed into someone else)."""
        return f"{AGENT_PREFIX}{self._name}"

    async def tools(self) -> list[ToolInfo]:
        return await self._eng.list_tools()

    async def run(
        self,
        tool: str,
        args: dict[str, Any] | None = None,
        *,
        dry_run: bool | None = None,
        approval_id: str | None = None,
        reason: str = "",
    ) -> RunResult:
        """Through policy, approvals and audit; a risky call without a grant waits in the
        inbox (its request is this agent's)."""
        request = RunRequest(
            tool=tool,
            args=args or {},
            dry_run=dry_run,
            approval_id=approval_id,
            requester=self.identity,
            reason=reason,
        )
        return await self._eng.run(request)

    async def request(
        self, tool: str, args: dict[str, Any] | None = None, *, reason: str = ""
    ) -> ApprovalRequest:
        """Into the inbox, whatever the risk; nothing runs until an operator approves."""
        request = RunRequest(
            tool=tool, args=args or {}, dry_run=False, requester=self.identity, reason=reason
        )
        return await self._eng.request_approval(request)

    async def requests(self, status: str | None = None, limit: int = 200) -> list[ApprovalRequest]:
        """This agent's requests (all statuses, newest first, or one status)."""
        return await self._eng.approvals.list(status, limit, requester=self.identity)

    async def request_count(self, status: str | None = None) -> int:
        """How many requests `requests(status)` would return without its limit."""
        return await self._eng.approvals.count(status, requester=self.identity)

    async def get_request(self, request_id: str) -> ApprovalRequest:
        """One of this agent's requests; another's is "not found" (its existence is not
        this agent's business)."""
        request = await self._eng.approvals.get(request_id)
        if request.requester != self.identity:
            raise NotFoundError(f"id: no approval request {request_id!r}")
        return request

    async def results(
        self,
        filters: AuditFilter | None = None,
        *,
        before_id: int | None = None,
        limit: int = 100,
    ) -> AuditPage:
        """Audit records of this agent's own calls (runs, requests, refusals), newest first
        (a page: `scanned_to` as `AuditLog.page`'s)."""
        own = replace(filters or AuditFilter(), actor=self.identity)
        return await self._eng.audit.page(own, before_id=before_id, limit=limit)


__all__ = ["AgentSession"]
