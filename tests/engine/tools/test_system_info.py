"""system_info: real figures of this machine, and nothing that names it or its users."""

from __future__ import annotations

import getpass
import os
import platform
import shutil
import socket
from pathlib import Path

from engine.tools.builtin.system import SYSTEM_INFO
from engine.tools.spec import NoArgs
from tests.engine.tools.conftest import MakeCtx


async def test_real_figures_and_no_identifying_text(workspace: Path, make_ctx: MakeCtx) -> None:
    got = await SYSTEM_INFO.run(make_ctx(workspace), NoArgs())
    assert got["cpu_count"] == os.cpu_count() and got["python"] == platform.python_version()
    assert 0 < got["memory_available"] <= got["memory_total"]
    assert 0 < got["disk_free"] <= got["disk_total"] == shutil.disk_usage(workspace).total
    text = str(got)
    for private in {socket.gethostname(), getpass.getuser(), str(workspace)} - {"root"}:
        assert private not in text
