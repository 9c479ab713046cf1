#!/usr/bin/env python3
"""Smoke test for a running node server (`daena-node` / `python -m node_server`).

    python scripts/smoke_node.py [--base http://127.0.0.1:18888] [--token T]

The token defaults to $WINDOWS_NODE_TOKEN. Without any token the node is assumed to run
open on loopback, and the token-refusal check is skipped (reported as SKIP).

Checks, one line each (PASS / FAIL / SKIP); the exit code is 1 if any check failed:

1. health: `GET /node/health` → 200, status ok, the three tools listed
2. token refusal: no token and a wrong token → 401 on both routes
3. file round trip: `file_write_workspace` writes `.daena-smoke/smoke.txt` (a fresh marker
   each time; the file is left in the node's workspace) and `file_read_workspace` reads the
   same text back
4. allowlist refusal: `safe_shell_exec` of a command outside the allowlist and of one with
   a shell metacharacter → 403, nothing run
5. path escape refusal: reading `../…`, an absolute path outside the workspace, and
   writing `../…` → 403

Only the standard library and httpx are needed, so it runs on the node machine itself.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any

import httpx
from smoke_support import Checks  # beside this script

TOKEN_HEADER = "X-Windows-Node-Token"
NODE_TOOLS = ("safe_shell_exec", "file_read_workspace", "file_write_workspace")
SMOKE_FILE = ".daena-smoke/smoke.txt"


class NodeSmoke(Checks):
    def __init__(self, base: str, token: str | None) -> None:
        super().__init__()
        self.base = base.rstrip("/")
        self.token = token
        headers = {TOKEN_HEADER: token} if token else {}
        self.http = httpx.Client(base_url=self.base, headers=headers, timeout=60)

    def tool(self, name: str, args: dict[str, Any], status: int) -> Any:
        response = self.http.post("/node/run_tool", json={"tool_name": name, "args": args})
        assert response.status_code == status, (
            f"{name} {args}: answered {response.status_code}, expected {status}: "
            f"{response.text[:300]}"
        )
        return response.json()

    def health(self) -> str:
        response = self.http.get("/node/health")
        assert response.status_code == 200, (
            f"GET /node/health answered {response.status_code}: {response.text[:300]}"
        )
        data = response.json()
        assert data.get("status") == "ok", f"status is {data.get('status')!r}"
        missing = [t for t in NODE_TOOLS if t not in data.get("tools", [])]
        assert not missing, f"tools missing: {missing}"
        return f"version {data.get('version')}, {data.get('platform')}"

    def refusal(self) -> str:
        for token in (None, "wrong-" + (self.token or "")):
            headers = {TOKEN_HEADER: token} if token else {}
            label = "wrong token" if token else "no token"
            health = httpx.get(self.base + "/node/health", headers=headers, timeout=30)
            assert health.status_code == 401, f"{label}: health answered {health.status_code}"
            run = httpx.post(
                self.base + "/node/run_tool",
                headers=headers,
                json={"tool_name": "file_read_workspace", "args": {"path": SMOKE_FILE}},
                timeout=30,
            )
            assert run.status_code == 401, f"{label}: run_tool answered {run.status_code}"
        return "no token and wrong token both 401"

    def round_trip(self) -> str:
        content = f"daena node smoke {secrets.token_hex(8)}\n"
        written = self.tool(
            "file_write_workspace",
            {"path": SMOKE_FILE, "content": content, "create_dirs": True},
            200,
        )
        assert written.get("bytes_written") == len(content.encode()), f"wrote {written}"
        read = self.tool("file_read_workspace", {"path": SMOKE_FILE}, 200)
        assert read.get("content") == content, f"read back {read.get('content')!r}"
        return f"{SMOKE_FILE}: {len(content)} bytes"

    def allowlist(self) -> str:
        outside = self.tool("safe_shell_exec", {"command": "curl https://example.com"}, 403)
        chained = self.tool("safe_shell_exec", {"command": "git status; id"}, 403)
        return f"{outside.get('error')}, {chained.get('error')}"

    def escape(self) -> str:
        self.tool("file_read_workspace", {"path": "../outside.txt"}, 403)
        absolute = "C:\\Windows\\win.ini" if os.name == "nt" else "/etc/passwd"
        self.tool("file_read_workspace", {"path": absolute}, 403)
        self.tool("file_write_workspace", {"path": "../daena-escape.txt", "content": "x"}, 403)
        return "../, absolute path and ../ write refused"

    def main(self) -> int:
        self.check("health", self.health)
        if self.failed:
            print("the node is not usable; stopping here")
            return 1
        if self.token:
            self.check("token refusal", self.refusal)
        else:
            print("SKIP  token refusal: no --token / WINDOWS_NODE_TOKEN (assuming an open node)")
        self.check("file write/read round trip", self.round_trip)
        self.check("allowlist refusal", self.allowlist)
        self.check("path escape refusal", self.escape)
        print(f"{'FAILED' if self.failed else 'OK'}: {self.failed} check(s) failed")
        return 1 if self.failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:18888", help="node base URL")
    parser.add_argument(
        "--token", default=os.environ.get("WINDOWS_NODE_TOKEN"), help="default $WINDOWS_NODE_TOKEN"
    )
    args = parser.parse_args(argv)
    try:
        return NodeSmoke(args.base, args.token or None).main()
    except httpx.HTTPError as err:
        print(f"FAIL  cannot talk to {args.base}: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
