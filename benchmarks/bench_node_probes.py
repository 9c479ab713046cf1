"""Node health probes: 50 nodes, 24 of them hung (they accept the connection and never
answer), probed one after another (the old `probe_all`, reproduced here as a loop over
`probe`) and all at once (`daena nodes health`, the real command in its own process).

The good nodes are one real node server (`python -m node_server`) registered 26 times;
the hung ones an asyncio server on loopback that accepts and never says a word. Target
(issue 19): `daena nodes health` answers within 6 s.

    python benchmarks/bench_node_probes.py [--nodes 50] [--hung 24] [--skip-sequential]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from bench_node_roundtrip import TOKEN, free_port, wait_up
from common import bench_settings, header, temp_dir

from engine import Engine


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # never answer; wait until the client gives up
    writer.close()


async def main(nodes: int, hung: int, sequential: bool) -> None:
    header(f"node health probes: {nodes} nodes, {hung} hung")
    settings = bench_settings(temp_dir("probes"))
    ws = settings.execution_workspace_root
    port = free_port()
    node = subprocess.Popen(
        [sys.executable, "-m", "node_server", "--port", str(port), "--workspace", str(ws)],
        env={**os.environ, "WINDOWS_NODE_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    hung_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    good_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            await wait_up(http, good_url + "/health")
        async with Engine.open(settings) as eng:
            await eng.nodes.remove("windows", operator="bench")
            for i in range(nodes):  # hung ones spread through the name order
                bad = i % 2 == 0 and i // 2 < hung
                name = f"node-{i:02d}"
                await eng.nodes.add(name, hung_url if bad else good_url, TOKEN, operator="bench")
            started = time.perf_counter()
            await eng.nodes.probe_all()
            print(f"all at once, in process (probe_all): {time.perf_counter() - started:.1f} s")
            if sequential:
                started = time.perf_counter()
                for n in await eng.nodes.list():
                    await eng.nodes.probe(n.name)
                print(
                    f"one after another (the old probe_all): {time.perf_counter() - started:.1f} s"
                )
        env = {
            **os.environ,
            "DAENA_DB_PATH": str(settings.daena_db_path),
            "EXECUTION_WORKSPACE_ROOT": str(ws),
        }
        daena = str(Path(sys.executable).with_name("daena"))
        started = time.perf_counter()
        listed = await asyncio.create_subprocess_exec(
            daena, "nodes", "list", env=env, stdout=asyncio.subprocess.DEVNULL
        )
        await listed.wait()
        print(
            f"daena nodes list (the command's start-up and exit, no probe): "
            f"{time.perf_counter() - started:.1f} s wall"
        )
        started = time.perf_counter()
        done = await asyncio.create_subprocess_exec(
            daena,
            "nodes",
            "health",
            env=env,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await done.communicate()
        took = time.perf_counter() - started
        text = out.decode()
        print(
            f"daena nodes health (all at once, pool of 32, 5 s deadline each): {took:.1f} s "
            f"wall, exit {done.returncode}; {text.count(' ok ')} ok, "
            f"{text.count('unreachable')} unreachable"
        )
    finally:
        server.close()
        node.terminate()
        node.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--hung", type=int, default=24)
    parser.add_argument("--skip-sequential", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.nodes, args.hung, not args.skip_sequential))
