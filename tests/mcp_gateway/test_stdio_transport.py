"""`daena mcp serve`'s stdio transport on the loop's own pipes (daena_tui/mcp/stdio.py):
messages in order and whole, however large; a bad line reported, not fatal; and what a
child process or a stray print writes never reaches the wire, nor reads the client's."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def test_pipes_carry_whole_messages_and_keep_children_off_the_wire() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.mcp_gateway.pipe_echo",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=8 * 1024 * 1024,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    big = "x" * 1_000_000  # far beyond a pipe's buffer, both ways
    sent = [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "a", "big": big}},
        {"jsonrpc": "2.0", "id": 3, "method": "ping"},
    ]
    lines = [json.dumps(sent[0]), "this is not json", json.dumps(sent[1]), json.dumps(sent[2])]
    proc.stdin.write("".join(line + "\n" for line in lines).encode())
    await proc.stdin.drain()
    got = [json.loads(await asyncio.wait_for(proc.stdout.readline(), 30)) for _ in range(4)]
    proc.stdin.close()
    rest, errors = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, errors.decode()
    assert [m.get("id") for m in got] == [1, None, 2, 3]  # in order
    assert got[1]["method"] == "bad_line"
    assert got[2]["params"]["big"] == big  # whole
    assert rest == b""  # nothing else on the wire: no stray output
    err = errors.decode()
    assert "stray output from a child" in err and "stray print from the server" in err
    assert "child read ''" in err  # the child read the null device, not the client's lines
