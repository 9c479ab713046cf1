"""The original's three smoke scripts (compat/original_api.md §12), their request sequences
replayed against `daena serve` with plain HTTP, asserting what the contract's equivalent
acceptance tests assert; and the original's node in our registry (`daena nodes health`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.api.compat_support import CLI, base_env, daena_serve, original_node, prepare

TOKEN = "smoke-operator-token-0123456789"
JSON = {"Content-Type": "application/json"}
PATCH = "--- a/x\n+++ b/x\n@@ -0,0 +1,1 @@\n+test\n"


def test_smoke_v1_sequence_in_insecure_local_mode(tmp_path: Path) -> None:
    """No token ever sent, as `smoke_execution_layer.py` does; the server runs with
    `--insecure-local` on loopback and no EXECUTION_TOKEN."""
    with (
        daena_serve(tmp_path, {}, insecure_local=True) as served,
        httpx.Client(base_url=served.v1, timeout=10) as http,
    ):
        tools = http.get("/tools")
        assert tools.status_code == 200 and isinstance(tools.json()["tools"], list)
        dry = http.post(
            "/run",
            content=json.dumps({"tool_name": "git_status", "args": {}, "dry_run": True}),
            headers=JSON,
        ).json()
        assert dry["success"] is True and dry["status"] == "ok" and dry["dry_run"] is True
        assert dry["result"]["dry_run"] is True and dry["result"]["tool"] == "git_status"
        real = http.post(
            "/run",
            content=json.dumps({"tool_name": "git_status", "args": {}, "dry_run": False}),
            headers=JSON,
        )
        assert real.status_code == 200
        body = real.json()
        assert body["status"] == "ok"
        assert {"stdout", "stderr", "returncode"} <= set(body["result"])
        logs = http.get("/logs?limit=1").json()["logs"]
        assert logs[0]["tool_name"] == "git_status" and logs[0]["status"] == "ok"
        assert logs[0]["audit_id"] == body["audit_id"]
        status = http.get("/auth-status").json()
        assert status["localhost_bypass"] is True and status["token_required_for_ui"] is False


def test_smoke_v2_sequence_with_a_token(tmp_path: Path) -> None:
    env = {"EXECUTION_TOKEN": TOKEN}
    with daena_serve(tmp_path, env) as served:
        assert httpx.get(served.v1 + "/tools", timeout=10).status_code == 401  # "as expected"
        headers = {"X-Execution-Token": TOKEN}
        with httpx.Client(base_url=served.v1, headers=headers, timeout=10) as http:
            tools = http.get("/tools")
            assert tools.status_code == 200
            assert "apply_patch" in [t["name"] for t in tools.json()["tools"]]
            grant = http.post("/approve?tool_name=apply_patch")  # no body
            assert grant.status_code == 200
            assert grant.json()["approval_id"] and grant.json()["ttl_seconds"] == 300
            readme = (served.workspace / "README.md").read_bytes()
            patch = {"tool_name": "apply_patch", "args": {"patch": PATCH}, "dry_run": True}
            disabled = http.post("/run", content=json.dumps(patch), headers=JSON)
            assert disabled.status_code == 200
            assert disabled.json()["status"] == "error" and disabled.json()["dry_run"] is True
            switched = http.patch("/tools/apply_patch/enabled?enabled=true")
            assert switched.json()["enabled"] is True
            enabled = http.post("/run", content=json.dumps(patch), headers=JSON)
            assert enabled.status_code == 200, enabled.text
            assert enabled.json()["dry_run"] is True
            assert (served.workspace / "README.md").read_bytes() == readme
            assert not (served.workspace / "x").exists()  # nothing changed
            git = http.post(
                "/run", content=json.dumps({"tool_name": "git_status", "args": {}}), headers=JSON
            )
            assert git.status_code == 200 and git.json()["status"] == "ok"


def test_smoke_node_sequence(tmp_path: Path) -> None:
    env = {"EXECUTION_TOKEN": TOKEN}
    with original_node() as node, daena_serve(tmp_path, env) as served:
        assert httpx.get(served.root + "/health", timeout=10).status_code == 200
        assert httpx.get(served.v1 + "/node/health", timeout=10).status_code == 401
        assert httpx.get(served.v1 + "/node/config", timeout=10).status_code == 401
        headers = {"X-Execution-Token": TOKEN}
        with httpx.Client(base_url=served.v1, headers=headers, timeout=10) as http:
            config = http.get("/node/config")
            assert config.status_code == 200 and config.json()["success"] is True
            assert "url" in config.json()
            health = http.get("/node/health")
            assert health.status_code == 200 and "success" in health.json()
            paired = http.post("/node/config", json={"url": node})
            assert paired.status_code == 200 and paired.json()["success"] is True
            assert paired.json()["url"] == node
            again = http.get("/node/health").json()
            assert again["success"] is True and again["node"]["status"] == "ok"


def test_daena_nodes_health_reports_the_original_node_ok(tmp_path: Path) -> None:
    """The original's node answers only `{status, workspace_root}`: ok, version and tools
    unknown, in `daena nodes health` (table and JSON)."""
    ws, db, empty = prepare(tmp_path)
    with original_node() as node:
        env = base_env({"WINDOWS_NODE_URL": node})
        args = ["--db", str(db), "--workspace", str(ws), "--env-file", str(empty)]

        def daena(*more: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-c", CLI, *args, *more],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
                check=False,
            )

        shown = daena("nodes", "health", "windows")
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "ok" in shown.stdout
        assert "original Daena node (version and tools unknown)" in shown.stdout
        answer = daena("--json", "nodes", "health", "windows")
        assert answer.returncode == 0, answer.stdout + answer.stderr
        report = json.loads(answer.stdout)["windows"]
        assert report["status"] == "ok" and report["original"] is True
        assert report["version"] is None and report["tools"] == []
        assert report["workspace_root"] == "/srv/original-ws"
        listed = daena("nodes", "list")
        assert listed.returncode == 0 and "version and tools unknown" in listed.stdout
