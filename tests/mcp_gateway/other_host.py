"""`python -m daena_tui ARGS…` as if it ran on another machine, for the multi-host tests:

    python tests/mcp_gateway/other_host.py HOST ARGS…

Only the host name it reports changes (as tests/postgres/host_worker.py does): its pid means
nothing to a process that reports another host, so that process must judge it by its
heartbeat alone.
"""

from __future__ import annotations

import runpy
import socket
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this tree, as `-m` would
    host = sys.argv.pop(1)
    socket.gethostname = lambda: host  # this process acts as another machine
    sys.argv[0] = "daena_tui"
    runpy.run_module("daena_tui", run_name="__main__", alter_sys=True)
