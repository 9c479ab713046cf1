"""`system_info`: what the agent may know about the machine to plan work on it.

Only coarse facts: OS, CPU count and load, memory, the free space of the workspace's
volume, Python's version. No host names, user names, paths other than the workspace's own
name, environment variables or process lists: those would tell an agent where else to look.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
from typing import Any

from engine.tools.spec import NoArgs, Risk, ToolContext, ToolSpec


def info(ctx: ToolContext) -> dict[str, Any]:
    import psutil  # on first use: every engine open builds the catalogue, few call this

    memory = psutil.virtual_memory()
    disk = shutil.disk_usage(ctx.workspace)
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # Windows
        load = None
    return {
        "os": platform.system(),
        "os_release": platform.release(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_percent": psutil.cpu_percent(interval=0.1),
        "load_average": load,
        "memory_total": memory.total,
        "memory_available": memory.available,
        "disk_total": disk.total,
        "disk_free": disk.free,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
    }


async def _info(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
    return await asyncio.to_thread(info, ctx)


SYSTEM_INFO = ToolSpec(
    name="system_info",
    description="OS, CPU count and load, memory, free disk of the workspace's volume, Python.",
    risk=Risk.LOW,
    args_model=NoArgs,
    run=_info,
    timeout_sec=10,
)

TOOLS = [SYSTEM_INFO]
