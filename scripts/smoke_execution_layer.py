#!/usr/bin/env python3
"""Smoke test for a running `daena serve` (the typed `/api/v2/*` API).

    python scripts/smoke_execution_layer.py [--base http://127.0.0.1:8000] [--token T]

The token defaults to $EXECUTION_TOKEN. Without any token the server is assumed to run with
`--insecure-local`, and the token-refusal checks are skipped (reported as SKIP).

Checks, one line each (PASS / FAIL / SKIP); the exit code is 1 if any check failed:

1. token refusal: no token → 401, a wrong token → 401, a token in the query string → 401
2. tools list: git_status, shell_exec, apply_patch and filesystem_read are listed
3. approve → run: `POST /approve?tool_name=shell_exec` gives a grant; without it the run
   is 403 (its inbox request is denied at once, so nothing is left pending); with it,
   `shell_exec "git status"` runs (status ok)
4. grant replay: the same grant again → 403, refused, "already used"
5. apply_patch dry run: a patch changing the first line of README.md (or --file) checks
   as applicable (status dry_run) and the file is byte-for-byte unchanged afterwards
6. git_status: status ok, with a branch
7. logs: the runs above appear in `GET /logs` (by trace id); limit 0 and 1001 → 422

Assumptions about the server, stated so a failure is easy to read: its workspace is a git
repository containing a text file README.md (or the file given with --file) that is
tracked, and its SHELL_ALLOWLIST allows `git status` (the default). Lockdown must be off.
To exercise approvals, the script temporarily sets `approval_mode=require_approval` and
`require_approval_for_risky=true`, and enables shell_exec, apply_patch and filesystem_read
if they are off; everything it changed is restored at the end (those changes are audited,
as the operator `api:smoke`).
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from typing import Any

import httpx
from smoke_support import Checks  # beside this script

PREFIX = "/api/v2"
TOKEN_HEADER = "X-Execution-Token"
NEEDED_TOOLS = ("shell_exec", "apply_patch", "filesystem_read")


class Smoke(Checks):
    def __init__(self, base: str, token: str | None, file: str) -> None:
        super().__init__()
        self.base = base.rstrip("/")
        self.token = token
        self.file = file
        headers = {"X-Operator": "smoke"}
        if token:
            headers[TOKEN_HEADER] = token
        self.http = httpx.Client(base_url=self.base + PREFIX, headers=headers, timeout=60)
        self.trace_ids: list[str] = []
        self.restore_config: dict[str, Any] = {}
        self.restore_tools: dict[str, bool] = {}

    # -- plumbing -------------------------------------------------------------------------

    def skip(self, name: str, why: str) -> None:
        print(f"SKIP  {name}: {why}")

    def json(self, response: httpx.Response, status: int) -> Any:
        assert response.status_code == status, (
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {status}: {response.text[:300]}"
        )
        return response.json()

    def run(self, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        data: dict[str, Any] = self.json(self.http.post("/run", json=body), status)
        if data.get("trace_id"):
            self.trace_ids.append(str(data["trace_id"]))
        return data

    # -- checks ---------------------------------------------------------------------------

    def token_refusal(self) -> str:
        url = self.base + PREFIX + "/tools"
        none = httpx.get(url, timeout=30)
        assert none.status_code == 401, f"no token: expected 401, got {none.status_code}"
        wrong = httpx.get(url, headers={TOKEN_HEADER: "wrong-" + (self.token or "")}, timeout=30)
        assert wrong.status_code == 401, f"wrong token: expected 401, got {wrong.status_code}"
        query = httpx.get(url, params={"token": self.token or ""}, timeout=30)
        assert query.status_code == 401, f"query token: expected 401, got {query.status_code}"
        return "no token, wrong token and query-string token all 401"

    def tools(self) -> str:
        tools = self.json(self.http.get("/tools"), 200)
        assert isinstance(tools, list), "GET /tools must answer a list"
        names = {t["name"] for t in tools}
        for needed in ("git_status", *NEEDED_TOOLS):
            assert needed in names, f"tool {needed} is not listed (have {sorted(names)})"
        return f"{len(tools)} tools"

    def prepare(self) -> str:
        config = self.json(self.http.get("/config"), 200)
        assert not config.get("lockdown_effective", config.get("lockdown")), (
            "lockdown is on; turn it off to run the smoke test"
        )
        wanted = {"approval_mode": "require_approval", "require_approval_for_risky": True}
        changes = {k: v for k, v in wanted.items() if config.get(k) != v}
        if changes:
            self.restore_config = {k: config[k] for k in changes}
            self.json(self.http.patch("/config", json=changes), 200)
        for tool in NEEDED_TOOLS:
            if not config["tool_enabled"].get(tool, False):
                self.json(self.http.patch(f"/tools/{tool}/enabled", json={"enabled": True}), 200)
                self.restore_tools[tool] = False
        changed = [*changes, *self.restore_tools]
        return f"temporarily changed: {', '.join(changed)}" if changed else "nothing to change"

    def approve_then_run(self) -> str:
        grant = self.json(self.http.post("/approve", params={"tool_name": "shell_exec"}), 200)
        assert grant.get("approval_id"), f"no approval_id in {grant}"
        assert grant.get("tool_name") == "shell_exec", f"grant for the wrong tool: {grant}"
        assert grant.get("ttl_seconds") == 300, f"TTL is not 300 s: {grant}"
        self.grant_id = str(grant["approval_id"])
        body = {"tool_name": "shell_exec", "args": {"command": "git status"}}
        without = self.run(body, 403)
        assert without["status"] == "pending_approval", f"without a grant: {without}"
        # Leave no request behind in the operator's inbox (another name: not our own request).
        denied = self.http.post(
            f"/approvals/{without['approval_request_id']}",
            json={"decision": "deny", "reason": "smoke test: only checking the 403"},
            headers={"X-Operator": "smoke-cleanup"},
        )
        self.json(denied, 200)
        with_grant = self.run({**body, "approval_id": self.grant_id})
        assert with_grant["success"] is True and with_grant["status"] == "ok", (
            f"run with the grant: {with_grant['status']}: {with_grant.get('error')}"
        )
        return f"grant {self.grant_id} used, audit {with_grant['audit_id']}"

    def replay(self) -> str:
        body = {
            "tool_name": "shell_exec",
            "args": {"command": "git status"},
            "approval_id": self.grant_id,
        }
        again = self.run(body, 403)
        assert again["status"] == "refused", f"replayed grant was not refused: {again}"
        assert "already used" in (again.get("error") or ""), f"unexpected reason: {again}"
        return str(again["error"])

    def read_file(self) -> str:
        data = self.run({"tool_name": "filesystem_read", "args": {"path": self.file}})
        assert data["success"], (
            f"cannot read {self.file} in the server's workspace: {data.get('error')} "
            "(give a tracked text file with --file)"
        )
        return str(data["result"]["content"])

    def patch_dry_run(self) -> str:
        before = self.read_file()
        assert before, f"{self.file} is empty; give a file with content with --file"
        old = before.splitlines(keepends=True)
        new = [old[0].rstrip("\r\n") + " (daena smoke)\n", *old[1:]]
        if not old[0].endswith("\n"):
            new[0] = new[0].rstrip("\n")
        patch = unified_diff(old, new, self.file)
        data = self.run({"tool_name": "apply_patch", "args": {"patch": patch}, "dry_run": True})
        assert data["status"] == "dry_run" and data["success"], (
            f"dry run: {data['status']}: {data.get('error')}"
        )
        assert data["dry_run"] is True, "the envelope does not say dry_run"
        after = self.read_file()
        assert after == before, f"{self.file} changed during a dry run"
        return f"{self.file} unchanged"

    def git_status(self) -> str:
        data = self.run({"tool_name": "git_status"})
        assert data["success"] and data["status"] == "ok", f"git_status: {data.get('error')}"
        assert "branch" in data["result"], f"no branch in {data['result']}"
        return f"branch {data['result']['branch']}"

    def logs(self) -> str:
        records = self.json(self.http.get("/logs", params={"limit": 200}), 200)
        assert isinstance(records, list), "GET /logs must answer a list"
        seen = {r.get("trace_id") for r in records}
        missing = [t for t in self.trace_ids if t not in seen]
        assert not missing, f"runs missing from the log: {missing}"
        for bad in (0, 1001):
            response = self.http.get("/logs", params={"limit": bad})
            assert response.status_code == 422, f"limit={bad}: {response.status_code}"
        return f"{len(self.trace_ids)} runs found"

    def restore(self) -> None:
        for tool, enabled in self.restore_tools.items():
            self.http.patch(f"/tools/{tool}/enabled", json={"enabled": enabled})
        if self.restore_config:
            self.http.patch("/config", json=self.restore_config)

    def main(self) -> int:
        if self.token:
            self.check("token refusal", self.token_refusal)
        else:
            self.skip("token refusal", "no --token / EXECUTION_TOKEN (assuming --insecure-local)")
        self.check("tools list", self.tools)
        if self.failed:
            print("the API is not usable; stopping here")
            return 1
        self.check("preconditions", self.prepare)
        if self.failed:
            return 1
        try:
            self.check("approve then run with the grant", self.approve_then_run)
            if hasattr(self, "grant_id"):
                self.check("grant replay refused", self.replay)
            self.check("apply_patch dry run leaves the file unchanged", self.patch_dry_run)
            self.check("git_status", self.git_status)
            self.check("logs show the runs", self.logs)
        finally:
            self.restore()
        print(f"{'FAILED' if self.failed else 'OK'}: {self.failed} check(s) failed")
        return 1 if self.failed else 0


def unified_diff(old: list[str], new: list[str], path: str) -> str:
    """A git-style unified diff, marking a last line without a newline as git does."""
    lines = difflib.unified_diff(old, new, f"a/{path}", f"b/{path}")
    out = [f"diff --git a/{path} b/{path}\n"]
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument(
        "--token", default=os.environ.get("EXECUTION_TOKEN"), help="default $EXECUTION_TOKEN"
    )
    parser.add_argument("--file", default="README.md", help="tracked text file for the patch")
    args = parser.parse_args(argv)
    smoke = Smoke(args.base, args.token or None, args.file)
    try:
        return smoke.main()
    except httpx.HTTPError as err:
        print(f"FAIL  cannot talk to {args.base}: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
