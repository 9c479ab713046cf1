#!/usr/bin/env bash
# Build the slim node distribution (packaging/node), install it into a fresh venv outside the
# checkout, and prove it is the node alone: none of the console's libraries installed, the
# package imports, `daena-node --help`, then the server started on loopback answering a
# health request (with the token; refused without it) and running git and a search in a
# workspace (the git hardening and RE2, with no libgit2).
# Usage: scripts/check_node_wheel.sh [PYTHON]   (default python3)
set -euo pipefail
python=${1:-python3}
checkout="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
node_pid=""
cleanup() {
  if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$python" -m pip wheel -q --no-deps -w "$tmp/dist" "$checkout/packaging/node"
# the wheel holds the three packages' sources and its metadata, nothing else
"$python" - "$tmp"/dist/daena_node-*.whl <<'PY'
import sys
import zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
tops = {name.split("/")[0] for name in names}
extra = sorted(t for t in tops if t not in {"node_server", "engine", "daena_http"}
               and not t.endswith(".dist-info"))
odd = sorted(n for n in names if not n.endswith((".py", "py.typed")) and ".dist-info/" not in n)
assert not extra and not odd, (extra, odd)
assert "node_server/__main__.py" in names and "daena_http/guard.py" in names, names
print(f"node wheel: {len(names)} files, only node_server, engine and daena_http sources")
PY
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "$tmp"/dist/daena_node-*.whl
py="$tmp/venv/bin/python"
cd "$tmp"  # away from the checkout (nothing of it on sys.path, none of its .env)

# the console's libraries are not there, and importing the node needs none of them
"$py" - <<'PY'
import importlib.util
import sys

console_only = ["textual", "rich", "pygit2", "aiosqlite", "ollama", "soundfile", "bs4",
                "psycopg", "mcp", "httpx", "psutil", "daena_tui", "daena_config"]
present = [name for name in console_only if importlib.util.find_spec(name) is not None]
assert not present, f"the slim node install has console packages: {present}"
import node_server.__main__, node_server.app  # noqa: E401,F401
loaded = sorted(m for m in sys.modules if m.split(".")[0] in console_only)
assert not loaded, loaded
print(f"node install: none of {len(console_only)} console packages present")
PY
"$tmp/venv/bin/daena-node" --help >/dev/null
"$tmp/venv/bin/daena-node" --version
# a start-up refusal is one line and exit 2, no traceback (beyond loopback without a token)
set +e
refusal="$(WINDOWS_NODE_TOKEN= "$tmp/venv/bin/daena-node" --host 0.0.0.0 --env-file "" 2>&1)"
rc=$?
set -e
[ "$rc" -eq 2 ] && [ "$(wc -l <<<"$refusal")" -eq 1 ] && [[ "$refusal" == *"without a token"* ]] ||
  { echo "node wheel: refusal was exit $rc: $refusal" >&2; exit 1; }

# a workspace that is a git repository with one file to find
ws="$tmp/workspace"
mkdir "$ws"
git -C "$ws" init -q
printf 'needle in the node\n' >"$ws/notes.txt"
git -C "$ws" add notes.txt
git -C "$ws" -c user.name=ci -c user.email=ci@localhost commit -qm one

port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="ci-$("$py" -c 'import secrets; print(secrets.token_hex(16))')"
WINDOWS_NODE_TOKEN="$token" "$tmp/venv/bin/daena-node" --host 127.0.0.1 --port "$port" \
  --workspace "$ws" --env-file "" >"$tmp/node.log" 2>&1 &
node_pid=$!

"$py" - "$port" "$token" <<'PY' || { cat "$tmp/node.log" >&2; exit 1; }
import json
import sys
import time
import urllib.error
import urllib.request

port, token = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"


def call(path, body=None, with_token=True):
    headers = {"Content-Type": "application/json"}
    if with_token:
        headers["X-Windows-Node-Token"] = token
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


deadline = time.monotonic() + 60  # bounded wait for the server to listen
while True:
    try:
        status, health = call("/node/health")
        break
    except (ConnectionError, urllib.error.URLError):
        if time.monotonic() > deadline:
            raise SystemExit("the node did not answer within 60 s")
        time.sleep(0.1)
assert status == 200, (status, health)
assert "safe_shell_exec" in health["tools"], health
status, refused = call("/node/health", with_token=False)
assert status == 401, (status, refused)
status, ran = call("/node/run_tool", {"tool_name": "safe_shell_exec",
                                       "args": {"command": "git status"}})
assert status == 200 and ran["returncode"] == 0, (status, ran)
assert "working tree clean" in ran["stdout"], ran
status, found = call("/node/run_tool", {"tool_name": "workspace_search",
                                        "args": {"pattern": "ne+dle", "regex": True}})
assert status == 200 and "notes.txt" in json.dumps(found), (status, found)
print(f"node ok: health {health['version']}, token enforced, git status and search ran")
PY
echo "node wheel ok"
