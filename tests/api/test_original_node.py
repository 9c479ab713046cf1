"""The original system's node in our registry: its health answer is only
`{status: "ok", workspace_root}`. It is `ok` with version, platform and tools unknown
(never a stale value from a node that answered at that name before), over `/api/v2`, and
our own node still answers with everything."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.api.compat_support import original_node
from tests.api.conftest import Api
from tests.node_server.conftest import TOKEN as NODE_TOKEN
from tests.node_server.conftest import make_workspace, node_settings, serve


async def test_original_node_is_ok_with_version_and_tools_unknown(api: Api, tmp_path: Path) -> None:
    (tmp_path / "daena-node").mkdir()
    node_ws = make_workspace(tmp_path / "daena-node")
    with serve(node_settings(node_ws)) as ours:
        await api.eng.nodes.add("box", ours.url, NODE_TOKEN, enabled=True, operator="op@test")
        first = await api.eng.nodes.probe("box")
        assert first.ok and first.version and first.tools and not first.original
    with original_node() as url:
        await api.eng.nodes.update("box", url=url, clear_token=True, operator="op@test")
        report = await api.eng.nodes.probe("box")
        assert report.ok and report.original
        assert report.version is None and report.platform is None and report.tools == ()
        assert report.workspace_root == "/srv/original-ws"
        assert "version and tools unknown" in report.message
        stored = await api.eng.nodes.get("box")
        assert stored.status == "ok"
        assert stored.version is None and stored.platform is None and stored.hostname is None
        typed = await api.http.get("/node/health", params={"node": "box"})
        body = typed.json()
        assert typed.status_code == 200 and body["ok"] is True and body["original"] is True
        assert body["version"] is None and body["tools"] == []


async def test_a_health_answer_that_is_neither_is_still_refused(api: Api) -> None:
    """Only the exact original shape is accepted: anything else is not a Daena node."""

    class Odd(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "workspace_root": 5}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Odd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        await api.eng.nodes.add("odd", url, None, enabled=True, operator="op@test")
        report = await api.eng.nodes.probe("odd")
        assert report.status == "error" and "is not a Daena node" in report.message
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
